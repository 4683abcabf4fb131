"""Requests in the corpus format of `waf_corpora.py` (method, uri, headers,
body), for the scripts that build sets for the WAF: each as one client
sends them, with its User-Agent."""
import json
import urllib.parse

INGEST = "/v1/ingest/demo"


class Client:
    def __init__(self, agent):
        self.headers = {"Host": "localhost", "User-Agent": agent, "Accept": "*/*"}
        self.json_headers = {**self.headers, "Content-Type": "application/json"}
        self.form_headers = {**self.headers, "Content-Type": "application/x-www-form-urlencoded"}

    def get(self, uri):
        return {"method": "GET", "uri": uri, "headers": self.headers}

    def post_json(self, doc):
        """A JSON document (or its text) posted to the ingest route."""
        body = doc if isinstance(doc, str) else json.dumps(doc)
        return {"method": "POST", "uri": INGEST, "headers": self.json_headers, "body": body}

    def post_form(self, body):
        return {"method": "POST", "uri": INGEST, "headers": self.form_headers, "body": body}

    def query_and_json(self, value, path, field, json_field=None, safe=""):
        """`value` as the query argument `field` of `path`, and as the field
        `json_field` (or `field`) of a JSON body."""
        return (self.get(f"{path}?{field}=" + urllib.parse.quote(value, safe=safe)),
                self.post_json({json_field or field: value}))
