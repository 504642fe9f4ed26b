"""The segment engine: rule trees over contact fields, compiled to SQL, and collapse by address.

Plain Python and SQLAlchemy; it knows nothing of Flask or the service. (Built in the segments issue.)
"""
