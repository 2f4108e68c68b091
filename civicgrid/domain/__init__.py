"""The pure rules of digital city management (see ../shared/DOMAIN.md and docs/domain.md).

Nothing here opens a socket, touches the database, reads the clock or reads a
file other than the data shipped inside this package: time comes in as an
argument and event records go out.
"""
