import Mustache

/// The dashboard's mustache templates, compiled into the binary so it needs no resource
/// folder. Every value is written with `{{name}}`, which HTML-escapes; a test fails if any
/// template uses the unescaped `{{{name}}}` or `{{&name}}` forms (DashboardTemplateTests).
package enum DashboardTemplates {
    package static let all: [String: String] = [
        "layout": layout, "login": login, "overview": overview, "runs": runs, "run": run,
        "leases": leases, "keys": keys, "events": events, "agents": agents, "agent": agent, "tools": tools,
        "usage": usage,
    ]

    /// Parsed once at start-up; a template that does not parse is a programming error caught
    /// by every dashboard test.
    package static func library() throws -> MustacheLibrary {
        var library = MustacheLibrary()
        for (name, text) in all { try library.register(text, named: name) }
        return library
    }

    static let layout = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        {{#refresh}}<meta http-equiv="refresh" content="30">{{/refresh}}
        <title>{{title}} · once-server</title>
        <link rel="stylesheet" href="/ui/static/dashboard.css">
        </head>
        <body>
        <header class="top">
        <a class="brand" href="/ui">once<span>·</span>server</a>
        <nav>{{#nav}}<a href="{{href}}"{{#current}} class="current" aria-current="page"{{/current}}>{{label}}</a>{{/nav}}</nav>
        <form class="logout" method="post" action="/ui/logout">
        <span class="who" title="account {{accountId}}">{{who}}</span>
        <input type="hidden" name="csrf" value="{{csrf}}">
        <button type="submit">Log out</button>
        </form>
        </header>
        <main>
        <h1>{{title}}</h1>
        {{$content}}{{/content}}
        </main>
        </body>
        </html>
        """

    static let login = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Log in · once-server</title>
        <link rel="stylesheet" href="/ui/static/dashboard.css">
        </head>
        <body class="login">
        <form class="card login-card" method="post" action="/ui/login">
        <h1>once<span>·</span>server</h1>
        <p class="muted">Log in with an API key (<code>once-server keys create</code> makes one).</p>
        {{#message}}<p class="flash bad" role="alert">{{message}}</p>{{/message}}
        <label for="api_key">API key</label>
        <input id="api_key" name="api_key" type="password" autocomplete="current-password" required autofocus>
        <button type="submit">Log in</button>
        </form>
        </body>
        </html>
        """

    static let overview = """
        {{<layout}}{{$content}}
        <section class="cards">
        {{#cards}}<div class="card stat{{#bad}} bad{{/bad}}"><div class="label">{{label}}</div><div class="value">{{today}}</div><div class="sub">{{day}} in 24 h</div></div>{{/cards}}
        </section>
        <p class="muted">Counts of today (UTC, from the daily metrics) and of the last 24 hours (from the activity feed, kept for its retention). Expired leases have no daily metric. Refreshes every 30 s.</p>
        <div class="columns">
        <section>
        <h2>Leases held now <span class="count">{{heldCount}}</span></h2>
        {{#held}}<table><thead><tr><th>Key</th><th>Seconds left</th><th>Version</th></tr></thead><tbody>
        {{#items}}<tr><td><a href="/ui/leases">{{key}}</a></td><td class="num">{{secondsLeft}}</td><td class="num">{{version}}</td></tr>{{/items}}
        </tbody></table>{{/held}}
        {{^held}}<p class="empty">No lease is held.</p>{{/held}}
        </section>
        <section>
        <h2>Last failed runs</h2>
        {{#failed}}<table><thead><tr><th>Run</th><th>Last event</th><th>When</th></tr></thead><tbody>
        {{#items}}<tr class="error"><td><a href="{{href}}">{{runId}}</a></td><td>{{lastType}}</td><td>{{when}}</td></tr>{{/items}}
        </tbody></table>
        <p><a href="/ui/runs?status=failed">All failed runs →</a></p>{{/failed}}
        {{^failed}}<p class="empty">No failed run.</p>{{/failed}}
        </section>
        </div>
        {{/content}}{{/layout}}
        """

    static let runs = """
        {{<layout}}{{$content}}
        <form class="filters" method="get" action="/ui/runs">
        <label>Status <select name="status">{{#statuses}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/statuses}}</select></label>
        <label>Key <input name="key" value="{{key}}" placeholder="lease key"></label>
        <label>Agent <input name="agent" value="{{agent}}" placeholder="agent id"></label>
        <button type="submit">Filter</button> <a href="/ui/runs">Clear</a>
        </form>
        {{#hasItems}}<table><thead><tr><th>Run</th><th>Status</th><th>Last event</th><th>Events</th><th>Last activity</th></tr></thead><tbody>
        {{#items}}<tr{{#error}} class="error"{{/error}}><td><a href="{{href}}">{{runId}}</a></td><td>{{#status}}<span class="badge {{badge}}">{{status}}</span>{{/status}}</td><td>{{lastType}}</td><td class="num">{{eventsCount}}</td><td>{{when}}</td></tr>{{/items}}
        </tbody></table>{{/hasItems}}
        {{^hasItems}}<p class="empty">No run matches.</p>{{/hasItems}}
        {{#next}}<p class="pager"><a href="{{next}}">Older runs →</a></p>{{/next}}
        {{/content}}{{/layout}}
        """

    static let run = """
        {{<layout}}{{$content}}
        <p class="crumbs"><a href="/ui/runs">Runs</a> / <code>{{runId}}</code></p>
        {{#record}}<section class="card record{{#failed}} bad{{/failed}}">
        <h2>once-exec run: <span class="badge {{badge}}">{{outcome}}</span></h2>
        <dl class="facts">
        <dt>Key</dt><dd><a href="/ui/runs?key={{keyQuery}}">{{key}}</a></dd>
        <dt>Command</dt><dd><code>{{command}}</code></dd>
        <dt>Host</dt><dd>{{host}} (pid {{pid}})</dd>
        <dt>Exit</dt><dd>{{exit}}</dd>
        <dt>Started</dt><dd>{{startedAt}}</dd>
        <dt>Duration</dt><dd>{{duration}}</dd>
        {{#errorCode}}<dt>Error code</dt><dd><code>{{errorCode}}</code></dd>{{/errorCode}}
        </dl>
        {{#stdout}}<h3>Output tail (stdout)</h3><pre class="tail">{{stdout}}</pre>{{/stdout}}
        {{#stderr}}<h3>Output tail (stderr)</h3><pre class="tail">{{stderr}}</pre>{{/stderr}}
        {{^stdout}}{{^stderr}}<p class="muted">No output was captured.</p>{{/stderr}}{{/stdout}}
        </section>{{/record}}
        <h2>Timeline <span class="count">{{total}}</span></h2>
        {{#truncated}}<p class="muted">Showing the first {{shown}} events.</p>{{/truncated}}
        <table class="timeline"><thead><tr><th></th><th>Time</th><th>Type</th><th>Status</th><th>Tool</th><th>Step</th><th>Duration</th><th>Message</th><th>Data</th></tr></thead><tbody>
        {{#events}}<tr{{#error}} class="error"{{/error}}><td class="mark">{{#error}}<span title="error">✕</span>{{/error}}</td><td class="nowrap">{{when}}</td><td>{{type}}</td><td>{{status}}</td><td>{{tool}}</td><td>{{step}}</td><td class="num">{{duration}}</td><td>{{message}}</td><td>{{#data}}<details><summary>data</summary><pre>{{data}}</pre></details>{{/data}}</td></tr>{{/events}}
        </tbody></table>
        {{^events}}<p class="empty">This run has no events (or is not in this account).</p>{{/events}}
        {{/content}}{{/layout}}
        """

    static let leases = """
        {{<layout}}{{$content}}
        <p class="muted">Leases held right now, with what once-exec reported about the holder. Refreshes every 30 s.</p>
        {{#hasItems}}<table><thead><tr><th>Key</th><th>Host</th><th>Command</th><th>Run</th><th>Acquired</th><th>Deadline</th><th>Seconds left</th><th>Version</th></tr></thead><tbody>
        {{#items}}<tr><td><code>{{key}}</code></td><td>{{host}}</td><td>{{#command}}<code>{{command}}</code>{{/command}}</td><td>{{#runHref}}<a href="{{runHref}}">{{runId}}</a>{{/runHref}}</td><td class="nowrap">{{acquiredAt}}</td><td class="nowrap">{{deadline}}</td><td class="num">{{secondsLeft}}</td><td class="num">{{version}}</td></tr>{{/items}}
        </tbody></table>{{/hasItems}}
        {{^hasItems}}<p class="empty">No lease is held.</p>{{/hasItems}}
        {{#next}}<p class="pager"><a href="{{next}}">More →</a></p>{{/next}}
        {{/content}}{{/layout}}
        """

    static let keys = """
        {{<layout}}{{$content}}
        <p class="muted">Check-lock keys; an expired one is gone at the next retention sweep.</p>
        {{#hasItems}}<table><thead><tr><th>Key</th><th>State</th><th>First seen</th><th>Expires</th><th>TTL</th><th>Metadata</th></tr></thead><tbody>
        {{#items}}<tr><td><code>{{key}}</code></td><td><span class="badge {{badge}}">{{state}}</span></td><td class="nowrap">{{firstSeen}}</td><td class="nowrap">{{expires}}</td><td class="num">{{ttl}}</td><td class="small">{{metadata}}</td></tr>{{/items}}
        </tbody></table>{{/hasItems}}
        {{^hasItems}}<p class="empty">No check-lock key.</p>{{/hasItems}}
        {{#next}}<p class="pager"><a href="{{next}}">More →</a></p>{{/next}}
        {{/content}}{{/layout}}
        """

    static let events = """
        {{<layout}}{{$content}}
        <form class="filters" method="get" action="/ui/events">
        {{#types}}<label class="check"><input type="checkbox" name="type" value="{{value}}"{{#checked}} checked{{/checked}}> {{value}}</label>{{/types}}
        <button type="submit">Filter</button> <a href="/ui/events">Clear</a>
        </form>
        {{#hasItems}}<table><thead><tr><th>Time</th><th>Type</th><th>Key</th><th>Fields</th><th>Request id</th></tr></thead><tbody>
        {{#items}}<tr{{#error}} class="error"{{/error}}><td class="nowrap">{{when}}</td><td><span class="badge {{badge}}">{{type}}</span></td><td><code>{{key}}</code></td><td class="small">{{fields}}</td><td class="small"><code>{{reqId}}</code></td></tr>{{/items}}
        </tbody></table>{{/hasItems}}
        {{^hasItems}}<p class="empty">No event matches.</p>{{/hasItems}}
        {{#next}}<p class="pager"><a href="{{next}}">Older events →</a></p>{{/next}}
        {{/content}}{{/layout}}
        """

    static let agents = """
        {{<layout}}{{$content}}
        <p class="muted">Agents with a policy, and what they did in the last 24 hours.</p>
        {{#hasItems}}<table><thead><tr><th>Agent</th><th>State</th><th>Actions (24 h)</th><th>Blocked</th><th>Spend USD</th></tr></thead><tbody>
        {{#items}}<tr><td><a href="{{href}}">{{agentId}}</a></td><td><span class="badge {{badge}}">{{state}}</span></td><td class="num">{{total}}</td><td class="num">{{blocked}}</td><td class="num">{{spend}}</td></tr>{{/items}}
        </tbody></table>{{/hasItems}}
        {{^hasItems}}<p class="empty">No agent has a policy yet (POST /v1/policies/AGENT).</p>{{/hasItems}}
        {{/content}}{{/layout}}
        """

    static let agent = """
        {{<layout}}{{$content}}
        <p class="crumbs"><a href="/ui/agents">Agents</a> / <code>{{agentId}}</code></p>
        <section class="cards">
        <div class="card stat{{#disabled}} bad{{/disabled}}"><div class="label">State</div><div class="value">{{state}}</div><div class="sub">{{reason}}</div></div>
        <div class="card stat"><div class="label">Actions (24 h)</div><div class="value">{{total}}</div></div>
        <div class="card stat{{#anyBlocked}} bad{{/anyBlocked}}"><div class="label">Blocked (24 h)</div><div class="value">{{blocked}}</div></div>
        <div class="card stat"><div class="label">Spend USD (24 h)</div><div class="value">{{spend}}</div></div>
        </section>
        {{#topTools}}<p>Top tools: {{#items}}<span class="badge">{{tool}} × {{count}}</span> {{/items}}</p>{{/topTools}}
        <h2>Policy</h2>
        {{#policy}}<pre>{{policy}}</pre>{{/policy}}{{^policy}}<p class="empty">No policy.</p>{{/policy}}
        <h2>Decision log</h2>
        {{#hasLogs}}<table><thead><tr><th>Time</th><th>Tool</th><th>Decision</th><th>Reason</th><th>Risk</th><th>Spend USD</th></tr></thead><tbody>
        {{#logs}}<tr{{#blocked}} class="error"{{/blocked}}><td class="nowrap">{{when}}</td><td>{{tool}}</td><td><span class="badge {{badge}}">{{decision}}</span></td><td>{{reason}}</td><td>{{risk}}</td><td class="num">{{spend}}</td></tr>{{/logs}}
        </tbody></table>{{/hasLogs}}
        {{^hasLogs}}<p class="empty">No decision yet.</p>{{/hasLogs}}
        {{/content}}{{/layout}}
        """

    static let tools = """
        {{<layout}}{{$content}}
        <p class="muted">Tools registered with <code>POST /v1/tools</code>, and every tool name the account's policies use. Secrets are sealed at rest and never shown here, nor anywhere in the dashboard.</p>
        {{#hasItems}}<table><thead><tr><th>Tool</th><th>Scope</th><th>URL</th><th>State</th><th>Timeout</th><th>Secret</th><th>Allowed for</th><th>Blocked for</th><th>Call limits</th><th>Price USD</th></tr></thead><tbody>
        {{#items}}<tr><td><code>{{name}}</code>{{#description}}<br><span class="muted">{{description}}</span>{{/description}}</td>
        {{#registered}}<td>{{scope}}</td><td class="small"><code>{{url}}</code></td><td>{{#enabled}}<span class="badge good">enabled</span>{{/enabled}}{{^enabled}}<span class="badge bad">disabled</span>{{/enabled}}</td><td class="nowrap">{{timeout}}</td><td>{{secret}}</td>{{/registered}}
        {{^registered}}<td colspan="5" class="muted">not registered: named by a policy only</td>{{/registered}}
        <td>{{allowed}}</td><td>{{blocked}}</td><td>{{limits}}</td><td>{{prices}}</td></tr>{{/items}}
        </tbody></table>{{/hasItems}}
        {{^hasItems}}<p class="empty">No tool is registered and no policy names one.</p>{{/hasItems}}
        {{/content}}{{/layout}}
        """

    static let usage = """
        {{<layout}}{{$content}}
        <p class="filters">Last {{#ranges}}<a href="{{href}}"{{#current}} class="current"{{/current}}>{{days}} days</a> {{/ranges}}(UTC days)</p>
        <figure class="chart">
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {{chart.width}} {{chart.height}}" role="img" aria-label="Check-locks and leases acquired per day">
        {{#chart.grid}}<line class="grid" x1="{{chart.left}}" x2="{{chart.right}}" y1="{{y}}" y2="{{y}}"/><text class="axis" x="{{chart.labelX}}" y="{{y}}" dy="4" text-anchor="end">{{label}}</text>{{/chart.grid}}
        {{#chart.bars}}<rect class="{{series}}" x="{{x}}" y="{{y}}" width="{{width}}" height="{{height}}"><title>{{title}}</title></rect>{{/chart.bars}}
        {{#chart.days}}<text class="axis" x="{{x}}" y="{{chart.dayY}}" text-anchor="middle">{{label}}</text>{{/chart.days}}
        </svg>
        <figcaption><span class="swatch checks"></span> check-locks <span class="swatch leases"></span> leases acquired <span class="swatch failed"></span> leases failed</figcaption>
        </figure>
        <table><thead><tr><th>Day</th>{{#columns}}<th>{{.}}</th>{{/columns}}</tr></thead><tbody>
        {{#rows}}<tr><td class="nowrap">{{day}}</td>{{#values}}<td class="num">{{.}}</td>{{/values}}</tr>{{/rows}}
        </tbody></table>
        {{/content}}{{/layout}}
        """
}
