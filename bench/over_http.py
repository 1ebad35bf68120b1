"""Dockyard as a person or a script meets it: through the running server
(uvicorn, as scripts/run.sh starts it) over HTTP, logged in, every answer read
through and its status checked: a timing of an error page measures nothing."""

import http.client
import json
from urllib.parse import urlencode, urlsplit

from bench.floors import read_through


class Dockyard:
    def __init__(self, server, session, token):
        self.server, self.session, self.token = server, session, token

    def _request(self, method, path, body=None, headers=None, status=200):
        address = urlsplit(self.server.url)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=600)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            if response.status != status:
                raise AssertionError(f"{method} {path}: {response.status}, not {status}: {response.read()[:500]}")
            return response
        except BaseException:
            connection.close()
            raise

    def page(self, path, containing=None):
        """A function that GETs `path` with the session's cookie and reads it through."""
        def get():
            response = self._request("GET", path, headers={"Cookie": f"sessionid={self.session}"})
            if containing is None:
                assert read_through(response, path), path
            else:
                body = response.read()
                assert containing in body, (path, containing)
            response.close()
        return get

    def api_get(self, path):
        def get():
            response = self._request("GET", path, headers={"Authorization": f"Bearer {self.token}"})
            assert read_through(response, path), path
            response.close()
        return get

    def api_post(self, path, fields=None):
        """POST a form to the API with the token; the 201's JSON."""
        response = self._request("POST", path, body=urlencode(fields or {}),
                                 headers={"Authorization": f"Bearer {self.token}",
                                          "Content-Type": "application/x-www-form-urlencoded"}, status=201)
        body = json.loads(response.read())
        response.close()
        return body
