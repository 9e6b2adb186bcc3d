-- Number 009 belongs to a migration on another branch (codec: 009_payload_keys.sql); tern
-- needs the numbers without a gap, so this empty file holds the place until that branch
-- merges. Delete this file when 009_payload_keys.sql arrives.
SELECT 1;
