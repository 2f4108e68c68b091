"""A local stand-in for the carriers' command APIs, over real HTTP, written from their published interfaces.

CTWing/AEP ``POST /aep_device_command/command``: checks the App Key, the MasterKey and the HMAC-SHA1
``signature`` over "application:…\\ntimestamp:…\\nMasterKey:…\\n" + body + "\\n" with the App Secret, and answers
``{"code": 0, "result": {"commandId": …}}``. OneNET ``POST /nbiot/execute``: checks the ``Authorization``
token (version 2018-10-31, ``res=products/{id}``, HMAC-SHA1 with the Base64-decoded access key, not expired)
and the query parameters, and answers ``{"errno": 0, "error": "succ"}``. Written apart from the gateway's
client (gateway/carriers/platform_api.py), so a signature either side gets wrong fails the test.

How it answers depends on the device: a CTWing deviceId or OneNET IMEI listed in `refuse` gets the platform's
refusal, one in `stall` gets no answer for `stall_s`. Every request is kept in `requests`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


class CarrierApiStandIn:
    def __init__(self, *, app_key: str, app_secret: str, master_key: str, onenet_product: str,
                 onenet_access_key: str, stall_s: float = 5.0) -> None:
        self.app_key, self.app_secret, self.master_key = app_key, app_secret, master_key
        self.onenet_res, self.onenet_key = f"products/{onenet_product}", base64.b64decode(onenet_access_key)
        self.refuse: set[str] = set()
        self.stall: set[str] = set()
        self.stall_s = stall_s
        self.requests: list[dict[str, Any]] = []
        self._next_id = 1000
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                url = urllib.parse.urlsplit(self.path)
                status, answer = stand_in.answer(url.path, dict(urllib.parse.parse_qsl(url.query)),
                                                 {k.lower(): v for k, v in self.headers.items()}, body)
                if status == 0:
                    return  # stalled: the client gave up; nothing to write
                data = orjson.dumps(answer)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CarrierApiStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
               ) -> tuple[int, dict[str, Any]]:
        if path == "/aep_device_command/command":
            return self._ctwing(headers, body)
        if path == "/nbiot/execute":
            return self._onenet(query, headers, body)
        return 404, {"error": "no such API"}

    def _ctwing(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        signed = (f"application:{headers.get('application')}\ntimestamp:{headers.get('timestamp')}\n"
                  f"MasterKey:{headers.get('masterkey')}\n").encode() + body + b"\n"
        expected = base64.b64encode(hmac.new(self.app_secret.encode(), signed, hashlib.sha1).digest()).decode()
        if (headers.get("application") != self.app_key or headers.get("masterkey") != self.master_key
                or not hmac.compare_digest(expected, headers.get("signature", ""))):
            return 200, {"code": 1001, "msg": "signature mismatch"}
        request = orjson.loads(body)
        self.requests.append({"platform": "ctwing", **request})
        device = request["deviceId"]
        if device in self.stall:
            time.sleep(self.stall_s)
            return 0, {}
        if device in self.refuse:
            return 200, {"code": 8002, "msg": "device does not exist", "result": None}
        self._next_id += 1
        return 200, {"code": 0, "msg": "ok", "result": {
            "commandId": str(self._next_id), "command": orjson.dumps(request["content"]).decode(),
            "commandStatus": "指令已保存", "deviceId": device, "productId": request["productId"],
            "createBy": request["operator"], "createTime": int(time.time() * 1000)}}

    def _onenet(self, query: dict[str, str], headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        token = dict(urllib.parse.parse_qsl(headers.get("authorization", "")))
        text = f"{token.get('et')}\n{token.get('method')}\n{token.get('res')}\n{token.get('version')}".encode()
        expected = base64.b64encode(hmac.new(self.onenet_key, text, hashlib.sha1).digest()).decode()
        if (token.get("res") != self.onenet_res or token.get("method") != "sha1"
                or token.get("version") != "2018-10-31" or int(token.get("et") or 0) < time.time()
                or not hmac.compare_digest(expected, token.get("sign", ""))):
            return 200, {"errno": 1, "error": "auth failed"}
        if not {"imei", "obj_id", "obj_inst_id", "res_id"} <= set(query) or not 5 <= int(query["timeout"]) <= 40:
            return 200, {"errno": 5108, "error": "invalid parameter"}
        self.requests.append({"platform": "onenet", **query, "args": orjson.loads(body)["args"]})
        if query["imei"] in self.stall:
            time.sleep(self.stall_s)
            return 0, {}
        if query["imei"] in self.refuse:
            return 200, {"errno": 2001, "error": "device not online"}
        return 200, {"errno": 0, "error": "succ"}
