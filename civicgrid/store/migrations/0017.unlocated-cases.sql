-- Intake (docs/api.md, "Intake"): a person's report that came without a place — an address the geocoder could not
-- resolve (score below civicgrid.store.addresses.RESOLVES_AT), or no address at all — stays in intake flagged
-- `unlocated`, listed for operators until one of them places it on the map (CaseService.place: point → cell).
-- depends: 0015.duplicates-and-feedback
ALTER TABLE cases ADD COLUMN unlocated boolean NOT NULL DEFAULT false;
-- The operators' list: open unlocated cases only, so the index stays the size of the work waiting.
CREATE INDEX cases_unlocated ON cases (reported_at) WHERE unlocated AND state NOT IN ('closed', 'cancelled');
