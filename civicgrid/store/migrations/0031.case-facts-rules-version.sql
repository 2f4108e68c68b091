-- The rules version each case's facts were judged by (NULL: filed before versions existed, judged by version 1),
-- so that a scoring table says which versions it covered from the facts it read, without a second read of the
-- period's rows of `cases` (docs/performance.md, "Scoring over 10 M cases").
-- depends: 0030.carrier-device-imei
ALTER TABLE case_facts ADD COLUMN rules_version integer;
UPDATE case_facts f SET rules_version = c.rules_version FROM cases c
 WHERE c.id = f.case_id AND c.rules_version IS NOT NULL;
