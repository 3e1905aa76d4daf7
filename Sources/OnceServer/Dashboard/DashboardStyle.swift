/// The dashboard's one style sheet, served at `/ui/static/dashboard.css` (the CSP allows
/// styles from the server itself only, so there is no inline style anywhere).
enum DashboardStyle {
    static let css = """
        :root {
          --bg: #f6f7f9; --panel: #fff; --ink: #1d2330; --muted: #667085; --line: #e3e6eb;
          --accent: #2f5bea; --bad: #c62828; --bad-bg: #fdecea; --good: #1b7f3b; --good-bg: #e6f4ea;
          --warn: #9a6700; --warn-bg: #fff4d6;
        }
        * { box-sizing: border-box; }
        html { font-size: 15px; }
        body { margin: 0; background: var(--bg); color: var(--ink);
          font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; line-height: 1.45; }
        a { color: var(--accent); text-decoration: none; }
        a:hover { text-decoration: underline; }
        code, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 0.87rem; }
        header.top { display: flex; align-items: center; gap: 1.5rem; padding: 0 1.5rem; height: 3.2rem;
          background: #151a24; color: #e8ebf1; }
        .brand { color: #fff; font-weight: 700; font-size: 1.1rem; letter-spacing: 0.01em; }
        .brand span, .login-card h1 span { color: #7aa2ff; }
        header nav { display: flex; gap: 0.2rem; flex: 1; flex-wrap: wrap; }
        header nav a { color: #c3c9d6; padding: 0.35rem 0.65rem; border-radius: 6px; }
        header nav a:hover { background: #232a38; text-decoration: none; }
        header nav a.current { background: #2b3346; color: #fff; }
        form.logout { display: flex; align-items: center; gap: 0.6rem; margin: 0; }
        .who { color: #9aa3b5; font-size: 0.85rem; }
        button { font: inherit; padding: 0.35rem 0.9rem; border-radius: 6px; border: 1px solid var(--line);
          background: var(--panel); color: var(--ink); cursor: pointer; }
        button:hover { border-color: var(--accent); }
        header button { background: transparent; color: #e8ebf1; border-color: #3a4356; }
        main { max-width: 1280px; margin: 0 auto; padding: 1.2rem 1.5rem 3rem; }
        h1 { font-size: 1.5rem; margin: 0.4rem 0 1rem; }
        h2 { font-size: 1.1rem; margin: 1.6rem 0 0.6rem; }
        h3 { font-size: 0.95rem; margin: 1rem 0 0.4rem; }
        .muted, .empty { color: var(--muted); }
        .empty { padding: 1rem; background: var(--panel); border: 1px dashed var(--line); border-radius: 8px; }
        .count { color: var(--muted); font-weight: 400; margin-left: 0.3rem; }
        .count::before { content: "("; } .count::after { content: ")"; }
        table { width: 100%; border-collapse: collapse; background: var(--panel); border: 1px solid var(--line);
          border-radius: 8px; overflow: hidden; }
        th, td { text-align: left; padding: 0.45rem 0.7rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { background: #eef0f4; font-weight: 600; font-size: 0.85rem; color: #444c5c; }
        tr:last-child td { border-bottom: none; }
        tbody tr:hover { background: #f9fafc; }
        tr.error td { background: var(--bad-bg); }
        tr.error td.mark { color: var(--bad); font-weight: 700; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; }
        td.small { font-size: 0.82rem; color: #485063; word-break: break-all; }
        .nowrap { white-space: nowrap; }
        td pre, .record pre, section > pre, main > pre { margin: 0.3rem 0 0; padding: 0.6rem 0.8rem; background: #f3f4f7;
          border: 1px solid var(--line); border-radius: 6px; overflow-x: auto; max-height: 24rem; }
        pre.tail { background: #141821; color: #e6e9ef; border-color: #141821; white-space: pre-wrap; }
        details summary { cursor: pointer; color: var(--accent); font-size: 0.85rem; }
        .badge { display: inline-block; padding: 0.05rem 0.5rem; border-radius: 999px; font-size: 0.8rem;
          background: #eef0f4; color: #384052; }
        .badge.good { background: var(--good-bg); color: var(--good); }
        .badge.bad { background: var(--bad-bg); color: var(--bad); }
        .badge.warn { background: var(--warn-bg); color: var(--warn); }
        .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); gap: 0.8rem; }
        .card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 0.9rem 1rem; }
        .card.bad { border-color: #f0b8b4; }
        .stat .label { color: var(--muted); font-size: 0.82rem; }
        .stat .value { font-size: 1.7rem; font-weight: 650; font-variant-numeric: tabular-nums; }
        .stat.bad .value { color: var(--bad); }
        .stat .sub { color: var(--muted); font-size: 0.8rem; }
        .columns { display: grid; grid-template-columns: 1fr 1fr; gap: 1.5rem; }
        @media (max-width: 900px) { .columns { grid-template-columns: 1fr; } }
        .record { margin-bottom: 1rem; }
        .record.bad { border-left: 4px solid var(--bad); }
        .record h2 { margin-top: 0; }
        dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1.2rem; margin: 0; }
        dl.facts dt { color: var(--muted); }
        dl.facts dd { margin: 0; }
        .filters { display: flex; flex-wrap: wrap; gap: 0.6rem 1rem; align-items: center; margin: 0 0 1rem;
          padding: 0.7rem 0.9rem; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; }
        .filters label { font-size: 0.88rem; color: #444c5c; }
        .filters input, .filters select { font: inherit; padding: 0.25rem 0.45rem; border: 1px solid var(--line);
          border-radius: 5px; background: #fff; }
        .filters label.check { display: inline-flex; gap: 0.3rem; align-items: center; }
        .filters a.current { font-weight: 700; color: var(--ink); }
        .pager { margin-top: 0.8rem; }
        .crumbs { color: var(--muted); margin-top: -0.6rem; }
        .flash { padding: 0.6rem 0.8rem; border-radius: 6px; }
        .flash.bad { background: var(--bad-bg); color: var(--bad); }
        figure.chart { margin: 0 0 1.2rem; background: var(--panel); border: 1px solid var(--line);
          border-radius: 8px; padding: 0.8rem; }
        figure.chart svg { width: 100%; height: auto; display: block; }
        figure.chart figcaption { color: var(--muted); font-size: 0.85rem; margin-top: 0.4rem; }
        svg .grid { stroke: #e3e6eb; stroke-width: 1; }
        svg .axis { fill: #667085; font-size: 11px; font-family: system-ui, "DejaVu Sans", sans-serif; }
        svg .checks, .swatch.checks { fill: #7aa2ff; background: #7aa2ff; }
        svg .leases, .swatch.leases { fill: #2f5bea; background: #2f5bea; }
        svg .failed, .swatch.failed { fill: #e0605a; background: #e0605a; }
        .swatch { display: inline-block; width: 0.8rem; height: 0.8rem; border-radius: 2px; margin: 0 0.2rem 0 0.8rem;
          vertical-align: -0.1rem; }
        body.login { display: flex; align-items: center; justify-content: center; min-height: 100vh;
          background: #151a24; }
        .login-card { width: 22rem; display: flex; flex-direction: column; gap: 0.55rem; padding: 1.6rem; }
        .login-card h1 { margin: 0 0 0.2rem; }
        .login-card input { font: inherit; padding: 0.5rem 0.6rem; border: 1px solid var(--line); border-radius: 6px; }
        .login-card button { background: var(--accent); color: #fff; border-color: var(--accent); padding: 0.5rem; }
        """
}
