"""A model behind an OpenAI-compatible ``/chat/completions`` endpoint.

Why: the same agent can use a llama.cpp server, vLLM or Ollama running
MedGemma on a bigger machine. Each call is still one fresh single-turn prompt.
Gemma templates have no system role (some servers drop the system message,
some refuse it), so for a model whose name contains "gemma" the system text
is folded into the user message, as our local Gemma template does.

Servers constrain output to a JSON schema in different ways
(:mod:`agent.models.structured_forms`); the first structured call to a server tries
them in order (each only after a probe shows the server enforces it) and remembers,
per server, the first one it accepts; a server that refuses them all gets an error
listing what it refused.  The output is always checked against the full schema.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from agent.models.base import (
    Completion,
    ContextOverflow,
    ModelError,
    ModelUnavailable,
    TokenCallback,
)
from agent.models.json_output import parse_json_output
from agent.models.scripted import approx_tokens
from agent.models.structured_forms import (
    GRAMMAR_MODES,
    GUIDANCE_OPTIONS,
    MODE_NAMES,
    PROBE_GRAMMAR,
    PROBE_MAX_TOKENS,
    PROBE_PROMPT,
    PROBE_SCHEMA,
    PROBE_SCHEMA_MAX_TOKENS,
    PROBE_WORD,
    STRUCTURED_MODES,
    StructuredMode,
    grammar_fields,
    is_refusal,
    schema_probe_enforced,
    structured_fields,
    token_budget,
)
from agent.models.templates import ThinkingFilter, strip_thinking

__all__ = [
    "GUIDANCE_OPTIONS",
    "STRUCTURED_MODES",
    "OpenAICompatibleModel",
    "StructuredMode",
    "structured_fields",
]

logger = logging.getLogger(__name__)

_detected: dict[str, StructuredMode] = {}
"""Per server base URL: the form it accepted, detected once per process."""


class OpenAICompatibleModel:
    """A :class:`~agent.models.base.ChatModel` over HTTP.

    ``on_token`` runs on the event loop thread (the HTTP stream is read
    asynchronously). Token counts come from the server's ``usage`` and fall
    back to the len//4 approximation when it reports none. ``count_tokens``
    is always that approximation, since the server's tokenizer is not local.
    The API key is sent as a bearer token and never appears in names,
    messages or reprs.
    """

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 120,
        context_window: int = 8192,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai:{self.base_url}" + (f"#{model}" if model else "")
        self.context_window = context_window
        self.timeout = timeout
        self._api_key = api_key
        self._transport = transport
        self._fold_system = model is not None and "gemma" in model.lower()

    def __repr__(self) -> str:
        return f"OpenAICompatibleModel({self.name!r})"

    def count_tokens(self, text: str) -> int:
        """Approximate (len // 4): the server's tokenizer is not available here."""
        return approx_tokens(text)

    def request_body(
        self,
        system: str,
        user: str,
        *,
        json_schema: dict[str, Any] | None,
        max_tokens: int,
        temperature: float,
        stream: bool,
        mode: StructuredMode | None = None,
    ) -> dict[str, Any]:
        """The JSON body ``complete`` posts (public so tests and logs can show it)."""
        if self._fold_system:
            content = f"{system}\n\n{user}" if system else user
            messages = [{"role": "user", "content": content}]
        else:
            messages = [{"role": "system", "content": system}] if system else []
            messages.append({"role": "user", "content": user})
        body: dict[str, Any] = {
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": stream,
        }
        if self.model:
            body["model"] = self.model
        if stream:
            body["stream_options"] = {"include_usage": True}
        if json_schema is not None:
            chosen = mode or self.structured_mode
            body["max_tokens"] = token_budget(chosen, json_schema, max_tokens)
            body.update(structured_fields(chosen, json_schema))
        return body

    @property
    def structured_mode(self) -> StructuredMode:
        """The form this server accepted (``json_schema`` until one was detected)."""
        return _detected.get(self.base_url, "json_schema")

    async def complete(
        self,
        system: str,
        user: str,
        *,
        json_schema: dict[str, Any] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
        on_token: TokenCallback | None = None,
    ) -> Completion:
        """POST one single-turn prompt; stream over SSE when ``on_token`` is given."""
        estimate = approx_tokens(system) + approx_tokens(user)
        budget = token_budget("grammar", json_schema, max_tokens)  # the most any form asks
        if estimate + budget > self.context_window:
            raise ContextOverflow(
                f"The prompt needs about {estimate} tokens plus max_tokens={budget}, "
                f"more than the {self.context_window}-token context configured for "
                f"{self.name}. Send fewer facts or lower max_tokens."
            )

        def body(mode: StructuredMode | None = None) -> dict[str, Any]:
            return self.request_body(
                system,
                user,
                json_schema=json_schema,
                max_tokens=max_tokens,
                temperature=temperature,
                stream=on_token is not None,
                mode=mode,
            )

        started = time.perf_counter()
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self._transport) as client:
                if on_token is not None:
                    text, usage = await self._stream(client, body(), on_token)
                elif json_schema is not None and self.base_url not in _detected:
                    text, usage = await self._detect(client, body)
                else:
                    response = await client.post(self._url, json=body(), headers=self._headers)
                    self._check_status(response.status_code, response.text)
                    text, usage = _parse_response(response, self.name)
        except httpx.TimeoutException as exc:
            raise ModelUnavailable(
                f"{self._url} did not answer within {self.timeout:g} s. Check the server is "
                "running and not overloaded, raise the timeout, or use --model none."
            ) from exc
        except httpx.TransportError as exc:
            raise ModelUnavailable(
                f"Cannot reach {self._url} ({type(exc).__name__}: {exc}). Start the server or "
                "fix the URL in the model spec (openai:URL#model), or use --model none."
            ) from exc
        visible = strip_thinking(text)
        if json_schema is not None:
            parse_json_output(visible, json_schema, source=self.name)
        return Completion(
            text=visible,
            prompt_tokens=int(usage.get("prompt_tokens") or estimate),
            completion_tokens=int(usage.get("completion_tokens") or approx_tokens(text)),
            seconds=time.perf_counter() - started,
        )

    async def _detect(self, client: httpx.AsyncClient, body: Any) -> tuple[str, dict[str, Any]]:
        """Try each structured-output form until the server accepts one; remember it."""
        refused: list[str] = []
        for mode in STRUCTURED_MODES:
            try:
                payload = body(mode)
            except ImportError:  # a grammar needs llama-cpp-python to convert the schema
                refused.append(f"{MODE_NAMES[mode]} (not tried: llama-cpp-python is absent)")
                continue
            ignored = await self._not_enforced(client, mode)
            if ignored:
                refused.append(f"{MODE_NAMES[mode]} ({ignored})")
                continue
            response = await client.post(self._url, json=payload, headers=self._headers)
            if response.status_code >= 400 and is_refusal(response.status_code, response.text):
                refused.append(
                    f"{MODE_NAMES[mode]} (HTTP {response.status_code}: {response.text[:160]!r})"
                )
                continue
            self._check_status(response.status_code, response.text)
            _detected[self.base_url] = mode
            # Form names only: a server's error text may echo the prompt (record text).
            logger.info(
                "%s takes %s for JSON-schema output; not taken: %s",
                self.base_url,
                MODE_NAMES[mode],
                ", ".join(MODE_NAMES[m] for m in STRUCTURED_MODES[: STRUCTURED_MODES.index(mode)])
                or "none",
            )
            return _parse_response(response, self.name)
        raise ModelError(
            f"{self._url} refused every way of constraining output to a JSON schema: "
            f"{'; '.join(refused)}. Use a server that enforces a JSON schema (llama.cpp's "
            "llama-server, vLLM, llama-cpp-python's server, Ollama), or --model none."
        )

    async def _not_enforced(self, client: httpx.AsyncClient, mode: StructuredMode) -> str | None:
        """Why the server does not enforce ``mode`` (a probe grammar or probe schema the
        model would never follow unprompted, answered exactly or not), or ``None``."""
        grammar = mode in GRAMMAR_MODES
        body = self.request_body(
            "",
            PROBE_PROMPT,
            json_schema=None,
            max_tokens=PROBE_MAX_TOKENS if grammar else PROBE_SCHEMA_MAX_TOKENS,
            temperature=0.0,
            stream=False,
        )
        if grammar:
            body.update(grammar_fields(mode, PROBE_GRAMMAR))
        else:
            body.update(structured_fields(mode, PROBE_SCHEMA))
        response = await client.post(self._url, json=body, headers=self._headers)
        if response.status_code >= 400 and is_refusal(response.status_code, response.text):
            return f"HTTP {response.status_code}: {response.text[:160]!r}"
        self._check_status(response.status_code, response.text)
        text, _ = _parse_response(response, self.name)
        if (text.strip() == PROBE_WORD) if grammar else schema_probe_enforced(text):
            return None
        probe = "grammar" if grammar else "schema"
        return f"accepted but not enforced: a probe {probe} got {text[:60]!r}"

    @property
    def _url(self) -> str:
        return f"{self.base_url}/chat/completions"

    @property
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    async def _stream(
        self, client: httpx.AsyncClient, body: dict[str, Any], on_token: TokenCallback
    ) -> tuple[str, dict[str, Any]]:
        pieces: list[str] = []
        usage: dict[str, Any] = {}
        thinking = ThinkingFilter()
        async with client.stream("POST", self._url, json=body, headers=self._headers) as response:
            if response.status_code >= 400:
                await response.aread()
                self._check_status(response.status_code, response.text)
            async for event in _sse_events(response.aiter_lines()):
                usage = event.get("usage") or usage
                for choice in event.get("choices") or []:
                    piece = (choice.get("delta") or {}).get("content") or ""
                    pieces.append(piece)
                    visible = thinking.feed(piece)
                    if visible:
                        on_token(visible)
        tail = thinking.flush()
        if tail:
            on_token(tail)
        return "".join(pieces), usage

    def _check_status(self, status: int, text: str) -> None:
        """Map HTTP errors to what the caller should do about them."""
        if status < 400:
            return
        detail = text[:300]
        if status >= 500 or status in (408, 429):
            raise ModelUnavailable(
                f"{self._url} answered HTTP {status}: {detail!r}. The server is failing or "
                "overloaded: check its log, retry later, or use --model none."
            )
        if "context" in text.lower() and ("length" in text.lower() or "size" in text.lower()):
            raise ContextOverflow(
                f"{self._url} rejected the prompt as too long for the model's context "
                f"(HTTP {status}: {detail!r}). Send fewer facts or lower max_tokens."
            )
        hint = {
            401: "check the API key",
            403: "check the API key's permissions",
            404: "check the base URL (it usually ends in /v1) and the model name",
        }.get(status, "check the model name and that the server supports JSON-schema output")
        raise ModelError(f"{self._url} answered HTTP {status}: {detail!r}; {hint}.")


def _parse_response(response: httpx.Response, source: str) -> tuple[str, dict[str, Any]]:
    try:
        payload = response.json()
        message = payload["choices"][0]["message"]
        return str(message.get("content") or ""), dict(payload.get("usage") or {})
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ModelError(
            f"{source} sent a response that is not an OpenAI chat completion "
            f"({response.text[:200]!r}); check that the URL points at a /v1 API."
        ) from exc


async def _sse_events(lines: AsyncIterator[str]) -> AsyncIterator[dict[str, Any]]:
    """Decode ``data:`` lines of a server-sent event stream until ``[DONE]``."""
    async for line in lines:
        if not line.startswith("data:"):
            continue  # comments, event names, keep-alives, blank separators
        data = line[len("data:") :].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
        except ValueError as exc:
            raise ModelError(f"The server sent a malformed stream event: {data[:200]!r}") from exc
        if isinstance(event, dict):
            if "error" in event:
                raise ModelError(f"The server reported an error mid-stream: {event['error']!r}")
            yield event
