"""A client for a served registry with the part of Flask's test-client API the tests use.

So one test module can walk the same workflow through Flask's test client and through a
real ``registry-model serve`` over HTTP: ``get``/``head``/``post``/``put``/``patch``/
``delete``/``open`` taking a path (query string included), ``data``, ``headers`` and
``content_type``; responses with ``status_code``, ``headers``, ``data``, ``get_json()``.
"""
import re

import requests


class HttpResponse:
    def __init__(self, response: requests.Response) -> None:
        self.status_code = response.status_code
        self.headers = response.headers
        self.data = response.content

    def get_json(self):
        return requests.models.complexjson.loads(self.data) if self.data else None

    def get_data(self, as_text: bool = False):
        return self.data.decode() if as_text else self.data


class HttpClient:
    def __init__(self, host: str) -> None:
        self.base = "http://%s" % host
        self.session = requests.Session()

    def open(self, path: str, method: str = "GET", data=None, headers=None,
             content_type=None) -> HttpResponse:
        headers = dict(headers or {})
        if content_type is not None:
            headers["Content-Type"] = content_type
        response = self.session.request(method, self.base + path, data=data, headers=headers,
                                        allow_redirects=False, timeout=60)
        return HttpResponse(response)

    def get(self, path, **kwargs):
        return self.open(path, "GET", **kwargs)

    def head(self, path, **kwargs):
        return self.open(path, "HEAD", **kwargs)

    def post(self, path, **kwargs):
        return self.open(path, "POST", **kwargs)

    def put(self, path, **kwargs):
        return self.open(path, "PUT", **kwargs)

    def patch(self, path, **kwargs):
        return self.open(path, "PATCH", **kwargs)

    def delete(self, path, **kwargs):
        return self.open(path, "DELETE", **kwargs)


class TokenHttpClient(HttpClient):
    """An HttpClient that signs in as real clients do: a 401 with a Bearer challenge sends it
    to the token endpoint (Basic credentials, the challenge's scope), then it retries with
    the token. Tokens are kept per scope, as docker and containerd keep them."""

    def __init__(self, host: str, account: str, password: str) -> None:
        super().__init__(host)
        self.credentials = (account, password)
        self.tokens: dict = {}
        self.last_token = None

    def _token(self, challenge: str) -> str:
        fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        scope = fields.get("scope", "")
        if scope not in self.tokens:
            response = self.session.get(fields["realm"], auth=self.credentials, timeout=60,
                                        params={"service": fields["service"], "scope": scope})
            response.raise_for_status()
            self.tokens[scope] = response.json()["token"]
        return self.tokens[scope]

    def open(self, path: str, method: str = "GET", data=None, headers=None,
             content_type=None) -> HttpResponse:
        headers = dict(headers or {})
        if self.last_token is not None:
            headers["Authorization"] = "Bearer " + self.last_token
        response = super().open(path, method, data, headers, content_type)
        challenge = response.headers.get("WWW-Authenticate", "")
        if response.status_code == 401 and challenge.startswith("Bearer "):
            self.last_token = self._token(challenge)
            headers["Authorization"] = "Bearer " + self.last_token
            response = super().open(path, method, data, headers, content_type)
        return response
