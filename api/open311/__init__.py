"""Open311 GeoReport v2 beyond the routes: the two formats (XML, the spec's required one, and JSON), the service
definitions' attributes, and the spec's error array (docs/open311.md)."""
