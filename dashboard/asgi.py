import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

# Django must be set up before anything imports models; this is what
# get_asgi_application() does, with a handler that streams request bodies.
django.setup(set_prefix=False)

from dashboard.request_body import StreamedBodyASGIHandler  # noqa: E402

django_asgi_app = StreamedBodyASGIHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from images.middleware import RequestBodyGuard, ServerSend, WebsocketAuth  # noqa: E402
from images.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({
    "http": RequestBodyGuard(django_asgi_app),
    # A page on another origin must not open a job's stream with the user's cookie (WebsocketAuth).
    "websocket": ServerSend(WebsocketAuth(URLRouter(websocket_urlpatterns))),
})

from dashboard.startup import prepare_long_lived_process  # noqa: E402

prepare_long_lived_process()
