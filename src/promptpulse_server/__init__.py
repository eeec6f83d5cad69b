"""The promptpulse server: per-user, per-machine Claude Code usage behind API keys.

A Litestar app on SQLAlchemy (SQLite by default, PostgreSQL for a team), with a JSON API the
collector uploads to. Install it with ``pip install 'promptpulse[server]'``.
"""
