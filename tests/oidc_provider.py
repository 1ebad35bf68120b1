"""OpenID providers for the sign-in tests.

`RealProvider` runs npm's oidc-provider (OpenID Certified) under Node on a
loopback port (tests/oidc/provider.js; `scripts/services.sh oidc` installs it),
with one client and users in a JSON file read again at every sign-in.

`MisbehavingProvider` stands in for a provider that misbehaves, which the real
one cannot be made to: it serves discovery, its own key set and a token
endpoint on loopback, and hands out whatever ID token a test crafted (wrong
audience, expired, no nonce, tampered, signed by another key)."""

import json
import secrets
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.live import free_port, stop_process, wait_for_port

PROVIDER_DIR = Path(__file__).parent / "oidc"
CLIENT_ID = "dockyard-test"


class RealProvider:
    """oidc-provider on 127.0.0.1 for a Dockyard served at `dockyard_url`."""

    def __init__(self, users, port=None):
        if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError("The tests' OpenID provider is not installed: run scripts/services.sh oidc.")
        self.port = port or free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.client_secret = secrets.token_urlsafe(24)
        self.data = Path(settings.DATA_DIR) / f"test-oidc-{self.port}"
        self.data.mkdir(mode=0o700, exist_ok=True)
        self.users_file = self.data / "users.json"
        self.config_file = self.data / "config.json"
        self.log_path = Path(settings.DATA_DIR) / "log" / f"test-oidc-{self.port}.log"
        self.set_users(users)
        self.process = None

    def set_users(self, users):
        """{login: {password, groups, email, name}}: read at each sign-in."""
        self.users_file.write_text(json.dumps(users))

    def start(self, dockyard_url):
        self.config_file.write_text(json.dumps({
            "issuer": self.issuer, "port": self.port, "usersFile": str(self.users_file),
            "cookieKey": secrets.token_urlsafe(24),
            "client": {"client_id": CLIENT_ID, "client_secret": self.client_secret,
                       "redirect_uris": [f"{dockyard_url}/login/oidc/callback"],
                       "post_logout_redirect_uris": [f"{dockyard_url}/login/"],
                       "grant_types": ["authorization_code"], "response_types": ["code"]},
        }))
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(["node", "provider.js", str(self.config_file)], cwd=PROVIDER_DIR,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port(self.port, self.process, f"oidc-provider did not start; see {self.log_path}")

    def dockyard_env(self, name="Test IdP", roles="dockyard-admins=admin,dockyard-builders=builder,"
                                                   "dockyard-viewers=viewer"):
        return {"DOCKYARD_OIDC_ISSUER": self.issuer, "DOCKYARD_OIDC_CLIENT_ID": CLIENT_ID,
                "DOCKYARD_OIDC_CLIENT_SECRET": self.client_secret, "DOCKYARD_OIDC_NAME": name,
                "DOCKYARD_OIDC_SCOPES": "openid,profile,email,groups", "DOCKYARD_OIDC_ROLES": roles}

    def stop(self):
        if self.process is not None:
            stop_process(self.process)
            self.log.close()
        shutil.rmtree(self.data, ignore_errors=True)


class MisbehavingProvider:
    """A stand-in for a provider that misbehaves (see the module's docstring)."""

    def __init__(self):
        self.key = RSAKey.generate_key(2048, parameters={"kid": "provider-key"})
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.client_secret = secrets.token_urlsafe(24)
        self.id_token = None  # what the token endpoint hands out next
        self.token_requests = []
        self.paths = []  # every request's path, in order
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = urlsplit(self.path).path
                provider.paths.append(path)
                if path == "/.well-known/openid-configuration":
                    self._json({"issuer": provider.issuer, "authorization_endpoint": f"{provider.issuer}/auth",
                                "token_endpoint": f"{provider.issuer}/token", "jwks_uri": f"{provider.issuer}/jwks",
                                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                                "id_token_signing_alg_values_supported": ["RS256"]})
                elif path == "/jwks":
                    self._json({"keys": [provider.key.as_dict(private=False)]})
                else:
                    self.send_error(404)

            def do_POST(self):
                provider.paths.append(urlsplit(self.path).path)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                provider.token_requests.append(parse_qs(body))
                self._json({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300,
                            "id_token": provider.id_token})

            def _json(self, data):
                body = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def claims(self, sent_nonce, **changes):
        """The claims of a good ID token for this sign-in; a change to None leaves that claim out."""
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "sub": "subject-7", "iat": now, "exp": now + 300,
                  "nonce": sent_nonce, "preferred_username": "mallory", "groups": ["dockyard-viewers"]}
        claims.update(changes)
        return {name: value for name, value in claims.items() if value is not None}

    def sign(self, claims, key=None):
        key = key or self.key
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)

    def settings(self):
        return {"DOCKYARD_OIDC_ISSUER": self.issuer, "DOCKYARD_OIDC_CLIENT_ID": CLIENT_ID,
                "DOCKYARD_OIDC_CLIENT_SECRET": self.client_secret, "DOCKYARD_OIDC_NAME": "Stand-in IdP",
                "DOCKYARD_OIDC_SCOPES": ["openid", "profile"],
                "DOCKYARD_OIDC_ROLES": [("dockyard-viewers", "viewer", ""), ("dockyard-admins", "admin", "")]}

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
