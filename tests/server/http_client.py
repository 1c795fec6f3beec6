"""A client for a served registry with the part of Flask's test-client API the tests use.

So one test module can walk the same workflow through Flask's test client and through a
real ``registry-model serve`` over HTTP: ``get``/``head``/``post``/``put``/``patch``/
``delete``/``open`` taking a path (query string included), ``data``, ``headers`` and
``content_type``; responses with ``status_code``, ``headers``, ``data``, ``get_json()``.
"""
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
