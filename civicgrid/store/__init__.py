"""PostgreSQL/TimescaleDB access shared by the services: connections, migrations, repositories."""
