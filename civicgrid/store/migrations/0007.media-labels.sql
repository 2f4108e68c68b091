-- Component labels (QR codes) read from uploaded photos (civicgrid/labels.py): the API reads
-- them at upload, and the case builder links an inspector's report without a component id to
-- the registered component its photo's label names (streams/casebuilder.py).
-- depends: 0006.console

ALTER TABLE media ADD COLUMN labels text[] NOT NULL DEFAULT '{}';
