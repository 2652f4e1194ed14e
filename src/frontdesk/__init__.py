"""frontdesk: a phone as a WebRTC camera for a laptop viewer with in-browser face landmarks,
beside a consented customer memory on Postgres + pgvector."""

__version__ = "0.1.0"
