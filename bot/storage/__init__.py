"""Storage: SQLAlchemy models, engines, Alembic migrations and the repositories over them."""
