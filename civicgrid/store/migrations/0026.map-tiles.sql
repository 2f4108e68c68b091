-- The console map's cells and streets as vector tiles (api/queries/map.py, docs/console.md): Web Mercator
-- geometry generated from the GeoJSON columns, as 0006 did for components, so a tile is an index probe and no
-- writer (city import, base-data imports, patrol) has to know about it.
-- depends: 0004.patrol 0006.console

ALTER TABLE grid_cells ADD COLUMN geom_3857 geometry(Geometry, 3857) GENERATED ALWAYS AS (
    ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(geometry), 4326), 3857)) STORED;
CREATE INDEX grid_cells_geom_3857 ON grid_cells USING gist (geom_3857);

ALTER TABLE road_segments ADD COLUMN geom_3857 geometry(Geometry, 3857) GENERATED ALWAYS AS (
    ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(geometry), 4326), 3857)) STORED;
CREATE INDEX road_segments_geom_3857 ON road_segments USING gist (geom_3857);
