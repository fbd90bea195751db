"""Domain services and pure rules. No FastAPI here; SQL only through SQLAlchemy expressions."""
