"""falsereject: measure and fix LLM over-refusal (FalseReject + Think-Before-Refusal)."""

__version__ = "0.1.0"
