-- Number 008 belongs to a migration on another branch (participants); tern needs the
-- numbers without a gap, so this empty file holds the place until that branch merges.
-- Delete this file when 008_participants.sql arrives.
SELECT 1;
