"""`proj ui`: a read-only web app to look at and compare the runs of a local tracking store.

It needs the `ui` extra (starlette, uvicorn, jinja2); no other command imports this package.
Pages are rendered on the server; the JSON API behind them serves the same data as
`proj runs list/show --format json` (see docs/ui.md).
"""
