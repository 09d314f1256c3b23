"""Opaque, signed keyset-pagination cursors.

A cursor holds the last row's sort key and id plus a digest of the query it belongs to
(filters, sort, order), as JSON, base64url-encoded and signed with HMAC-SHA256. A client can
pass it back but cannot forge one or reuse it with a different query: both are refused with a
400 problem.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from api.problems import Problem


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _digest(query: dict[str, Any]) -> str:
    """A short fingerprint of a query, so a cursor stays short whatever the filters."""
    canonical = json.dumps(query, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()[:32]


def _invalid(detail: str) -> Problem:
    return Problem(400, "invalid-cursor", detail)


class CursorSigner:
    """Encodes and verifies cursors under one secret."""

    def __init__(self, secret: bytes):
        self._secret = secret

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()

    def encode(self, position: dict[str, Any], query: dict[str, Any]) -> str:
        payload = json.dumps(
            {"after": position, "query": _digest(query)}, sort_keys=True, separators=(",", ":")
        ).encode()
        return f"{_b64encode(payload)}.{_b64encode(self._sign(payload))}"

    def decode(
        self,
        token: str,
        query: dict[str, Any],
        keep: str = "the same filters, sort and order when following `next_cursor`",
    ) -> dict[str, Any]:
        """The position a cursor points after; 400 if forged, corrupt or for another query,
        the latter telling the client to keep `keep` (in the words of the page or API that
        issued it)."""
        try:
            body, signature = token.split(".")
            payload, mac = _b64decode(body), _b64decode(signature)
        except (ValueError, binascii.Error) as exc:
            raise _invalid("the cursor is not one this API issued") from exc
        if not hmac.compare_digest(mac, self._sign(payload)):
            raise _invalid("the cursor's signature does not match: it was altered or forged")
        data = json.loads(payload)
        if data.get("query") != _digest(query):
            raise _invalid(f"the cursor belongs to a different query: keep {keep}")
        return data["after"]
