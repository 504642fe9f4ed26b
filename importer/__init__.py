"""The import engine: reading contact files, validating rows and applying them set-based.

Plain Python and SQLAlchemy Core; it knows nothing of Flask or the service.
"""
