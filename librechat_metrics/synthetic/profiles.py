"""Version profiles, model tables and vocabularies of the synthetic LibreChat generator."""

from __future__ import annotations

from dataclasses import dataclass, replace

PROFILES = ("v0.6", "v0.7.9", "v0.8.7", "v0.8.8")

NO_PARENT = "00000000-0000-0000-0000-000000000000"

THUMBS_UP_TAGS = ("accurate_reliable", "creative_solution", "clear_well_written", "attention_to_detail")
THUMBS_DOWN_TAGS = (
    "not_matched",
    "inaccurate",
    "bad_style",
    "missing_image",
    "unjustified_refusal",
    "not_helpful",
    "other",
)

FILE_TYPES = (  # (MIME type, extension, weight)
    ("image/png", "png", 6),
    ("application/pdf", "pdf", 3),
    ("text/plain", "txt", 2),
    ("text/csv", "csv", 1),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx", 1),
    ("image/webp", "webp", 1),
)

TOOLS = (  # (tool name or None for a nameless call, weight)
    ("web_search", 5),
    ("execute_code", 3),
    ("file_search", 3),
    ("get_issue_mcp_github", 2),
    ("search_repositories_mcp_github", 1),
    ("fetch_mcp_fetch", 2),
    ("query_mcp_postgres", 1),
    (None, 1),
)

ERROR_JSON_TEXTS = (
    '{"type":"token_balance","balance":120,"tokenCost":5400,"promptTokens":1800,"generations":[]}',
    '{"type":"invalid_request_error","info":"The model produced invalid content."}',
    '{"type":"no_user_key"}',
    '{"type":"expired_user_key","expiredAt":"2025-01-01T00:00:00.000Z","endpoint":"openAI"}',
    '{"type":"moderation","info":"Your message was flagged."}',
    '{"type":"google_error","info":"RECITATION"}',
    '{"type":"refusal"}',
    '{"type":"stream_expired"}',
)
ERROR_GENERIC_TEXT = "An error occurred while processing your request. Please contact the Admin."
ERROR_PART_TEXTS = (
    "An error occurred while processing the request: 429 Rate limit reached for requests",
    "An error occurred while processing the request: 500 Internal server error",
    "An error occurred while processing the request: Connection error.",
    "An error occurred while processing the request: 400 This model's maximum context length is exceeded",
)

# model -> (prompt, completion, cache write, cache read) in USD per 1M tokens; unknown models fall back to 6.
PRICES = {
    "gpt-3.5-turbo": (0.5, 1.5, 0.5, 0.5),
    "gpt-4": (30, 60, 30, 30),
    "gpt-4-turbo": (10, 30, 10, 10),
    "claude-2.1": (8, 24, 8, 8),
    "gemini-pro": (0.5, 1.5, 0.5, 0.5),
    "gpt-4o": (2.5, 10, 2.5, 1.25),
    "gpt-4o-mini": (0.15, 0.6, 0.15, 0.075),
    "gpt-4.1": (2, 8, 2, 0.5),
    "gpt-5": (1.25, 10, 1.25, 0.125),
    "gpt-5-mini": (0.25, 2, 0.25, 0.025),
    "o3": (2, 8, 2, 0.5),
    "o4-mini": (1.1, 4.4, 1.1, 0.275),
    "claude-3-5-sonnet-20241022": (3, 15, 3.75, 0.3),
    "claude-sonnet-4-5": (3, 15, 3.75, 0.3),
    "claude-haiku-4-5": (1, 5, 1.25, 0.1),
    "claude-opus-4-5": (5, 25, 6.25, 0.5),
    "gemini-2.5-pro": (1.25, 10, 1.25, 0.31),
    "gemini-2.5-flash": (0.3, 2.5, 0.3, 0.075),
    "anthropic.claude-sonnet-4-5-20250929-v1:0": (3, 15, 3.75, 0.3),
    "anthropic.claude-3-5-sonnet-20241022-v2:0": (3, 15, 3.75, 0.3),
    "mistral-large-latest": (2, 6, 2, 2),
    "gpt-4.1-mini": (0.4, 1.6, 0.4, 0.1),
}
DEFAULT_RATE = 6


@dataclass(frozen=True)
class Chat:
    """One selectable chat option: endpoint, model and the assistant's display sender."""

    endpoint: str
    model: str
    sender: str
    weight: float
    custom: bool = False
    reasoning: bool = False


@dataclass(frozen=True)
class Profile:
    """Which LibreChat features a profile's documents carry."""

    name: str
    message_endpoint: bool  # messages.endpoint (v0.6.6+)
    content: bool  # assistant output in content[] with text "" (v0.7.9 agents pipeline)
    feedback: bool
    agents: bool
    agent_share: float
    temporary: str  # "", "expiredAt" (v0.7.7+) or "isTemporary" (v0.8.6+)
    tx_message_id: bool  # transactions.messageId (v0.8.3+)
    structured_tx: bool  # cache-token prompt transactions
    tenant: bool  # tenantId (v0.8.5+)
    usage_metadata: bool  # messages.metadata.usage (v0.8.7)
    auto_refill: bool  # balance auto refill, autoRefill credits (v0.7.8+)
    agent_id_style: str  # conversations.agent_id for non-agent chats: "", "ephemeral", "encoded"
    title_model: str
    chats: tuple[Chat, ...]
    schedules: bool = (
        False  # v0.8.8: scheduled chats, several balances per user, reservations, tool-error shapes
    )
    automation: bool = False  # scheduled runs and agent events (v0.8.8, synthetic/automation.py)
    retention: bool = False  # some chats under `retentionMode: all`, the older of them expired (v0.8.8)


_LEGACY_CHATS = (
    Chat("openAI", "gpt-3.5-turbo", "GPT-3.5", 5),
    Chat("openAI", "gpt-4", "GPT-4", 2),
    Chat("openAI", "gpt-4-turbo", "GPT-4", 2),
    Chat("anthropic", "claude-2.1", "Claude", 1),
    Chat("google", "gemini-pro", "PaLM2", 1),
)
_V079_CHATS = (
    Chat("openAI", "gpt-4o", "GPT-4o", 5),
    Chat("openAI", "gpt-4o-mini", "GPT-4o mini", 3),
    Chat("openAI", "gpt-4.1", "GPT-4.1", 2),
    Chat("openAI", "o3", "o3", 1, reasoning=True),
    Chat("openAI", "o4-mini", "o4-mini", 1, reasoning=True),
    Chat("anthropic", "claude-3-5-sonnet-20241022", "Claude", 2),
    Chat("google", "gemini-2.5-pro", "Gemini", 1, reasoning=True),
    Chat("google", "gemini-2.5-flash", "Gemini", 1),
    Chat("bedrock", "anthropic.claude-3-5-sonnet-20241022-v2:0", "Claude", 0.5),
    Chat("Ollama", "llama3.1:8b", "Ollama", 0.5, custom=True),
)
_V087_CHATS = (
    Chat("openAI", "gpt-5", "GPT-5", 4, reasoning=True),
    Chat("openAI", "gpt-5-mini", "GPT-5", 3, reasoning=True),
    Chat("openAI", "gpt-4.1", "GPT-4.1", 2),
    Chat("openAI", "gpt-4o", "GPT-4o", 1),
    Chat("anthropic", "claude-sonnet-4-5", "Claude", 3),
    Chat("anthropic", "claude-haiku-4-5", "Claude", 1),
    Chat("anthropic", "claude-opus-4-5", "Claude", 0.5, reasoning=True),
    Chat("google", "gemini-2.5-pro", "Gemini", 1, reasoning=True),
    Chat("google", "gemini-2.5-flash", "Gemini", 1),
    Chat("bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0", "Claude", 0.5),
    Chat("Ollama", "llama3.1:8b", "Ollama", 0.3, custom=True),
    Chat("Mistral", "mistral-large-latest", "Mistral", 0.3, custom=True),
)

_V06 = Profile(
    name="v0.6",
    message_endpoint=False,
    content=False,
    feedback=False,
    agents=False,
    agent_share=0.0,
    temporary="",
    tx_message_id=False,
    structured_tx=False,
    tenant=False,
    usage_metadata=False,
    auto_refill=False,
    agent_id_style="",
    title_model="gpt-3.5-turbo",
    chats=_LEGACY_CHATS,
)
_V079 = Profile(
    name="v0.7.9",
    message_endpoint=True,
    content=True,
    feedback=True,
    agents=True,
    agent_share=0.25,
    temporary="expiredAt",
    tx_message_id=False,
    structured_tx=False,
    tenant=False,
    usage_metadata=False,
    auto_refill=True,
    agent_id_style="ephemeral",
    title_model="gpt-4o-mini",
    chats=_V079_CHATS,
)
_V087 = Profile(
    name="v0.8.7",
    message_endpoint=True,
    content=True,
    feedback=True,
    agents=True,
    agent_share=0.35,
    temporary="isTemporary",
    tx_message_id=True,
    structured_tx=True,
    tenant=True,
    usage_metadata=True,
    auto_refill=True,
    agent_id_style="encoded",
    title_model="gpt-4.1-mini",
    chats=_V087_CHATS,
)
_V088 = replace(_V087, name="v0.8.8", schedules=True, automation=True, retention=True)
PROFILE_SPECS = {p.name: p for p in (_V06, _V079, _V087, _V088)}


def rates(model: str) -> tuple[float, float, float, float]:
    """Prompt, completion, cache-write and cache-read rate (USD per 1M tokens) of a model."""
    r = PRICES.get(model)
    return r if r else (DEFAULT_RATE, DEFAULT_RATE, DEFAULT_RATE, DEFAULT_RATE)
