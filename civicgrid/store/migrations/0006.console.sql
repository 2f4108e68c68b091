-- The operator console's map (docs/console.md): PostGIS for component vector tiles (ST_AsMVT),
-- cell look-ups by bounding box, and responsibility-grid outlines (ST_Union of their cells).
-- The geometry columns are generated from the existing lon/lat and GeoJSON columns, so no
-- writer (city import, API, streams) has to know about them.
-- depends: 0003.api

CREATE EXTENSION IF NOT EXISTS postgis;

-- Web Mercator, the tiles' own projection: a tile query is an index probe on ST_TileEnvelope.
ALTER TABLE components ADD COLUMN geom_3857 geometry(Point, 3857) GENERATED ALWAYS AS (
    CASE WHEN lon IS NULL OR lat IS NULL THEN NULL
         ELSE ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4326), 3857) END) STORED;
CREATE INDEX components_geom_3857 ON components USING gist (geom_3857);

ALTER TABLE grid_cells ADD COLUMN geom geometry(Geometry, 4326) GENERATED ALWAYS AS (
    ST_SetSRID(ST_GeomFromGeoJSON(geometry), 4326)) STORED;
CREATE INDEX grid_cells_geom ON grid_cells USING gist (geom);
