"""The helpline's domain: contacts and the queue, operators and presence, outcomes, consent, cases
and statistics. Flask-free: every function takes an explicit SQLAlchemy session and raises the named
errors of `console.domain.errors`."""
