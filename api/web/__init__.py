"""The atlas explorer: server-rendered HTML pages over the same data as the JSON API.

`install_web(app)` adds the pages (under /atlas, with / leading there), their static assets
(/static), and the interactive API docs at /docs and /redoc served from local files (the
Swagger UI and ReDoc bundles of the `fastapi-offline` package): nothing is fetched from
another host, so the explorer and the docs work offline.

Pages read through the API's own route functions where one exists, so a page shows exactly
what its JSON endpoint returns; every page works without JavaScript, which only adds live
progress, zoom and graph highlighting (static/atlas.js).
"""

from api.web.setup import install_web

__all__ = ["install_web"]
