"""Mail that comes back: reading one inbound message and deciding what it is.

Pure of SQL and of the use cases: the SMTP server here (`server.py`) reads each message with
`decide`, then hands the `Decision` to an injected `InboundHandler` (the app's use case), which
is the only part that changes anything. Modules, one rule each:

    verp.py        the signed envelope sender that names one delivery
    dsn.py         delivery status notifications (RFC 3464 and the non-standard shapes)
    arf.py         abuse reports (RFC 5965)
    automatic.py   mail that must never be answered (RFC 3834)
    commands.py    commands written in a subject or a first line
    decide.py      which of these a message to one of our addresses is
    server.py      the SMTP server (aiosmtpd) that accepts or refuses each message
"""
