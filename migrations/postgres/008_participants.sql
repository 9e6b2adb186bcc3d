-- Participant records, written through /v1/participants and by imports that carry a
-- participant_name. A participant's record is personal data: the redactor reads the names,
-- an erasure deletes the row.
--
-- The list is paged by ID after the last one seen (keyset): the primary key
-- (tenant_id, id) serves that order, so paging needs no index of its own.
ALTER TABLE participants
    ADD COLUMN locale     text NOT NULL DEFAULT '',
    ADD COLUMN attributes jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
