# Type stub: azurefunctions-extensions-http-fastapi 1.0.1 ships no py.typed marker. Its public
# names re-export Starlette's request and response classes, which are typed.
from starlette.requests import Request as Request
from starlette.responses import FileResponse as FileResponse
from starlette.responses import HTMLResponse as HTMLResponse
from starlette.responses import JSONResponse as JSONResponse
from starlette.responses import PlainTextResponse as PlainTextResponse
from starlette.responses import RedirectResponse as RedirectResponse
from starlette.responses import Response as Response
from starlette.responses import StreamingResponse as StreamingResponse
