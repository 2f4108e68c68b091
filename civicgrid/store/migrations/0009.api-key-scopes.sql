-- API keys carry scopes and may expire (docs/security.md): a key is for Open311 intake unless an admin
-- gives it the whole API. Existing keys become Open311 keys: give one back the API with
-- `POST /api-keys` (a new key) if an integration needs it.
-- depends: 0008.alarm-acks
ALTER TABLE api_keys ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY UNIQUE;
ALTER TABLE api_keys ADD COLUMN scopes text[] NOT NULL DEFAULT ARRAY['open311']
    CHECK (scopes <@ ARRAY['open311', 'api'] AND cardinality(scopes) > 0);
ALTER TABLE api_keys ADD COLUMN expires_at timestamptz;
ALTER TABLE api_keys ADD COLUMN last_used_at timestamptz;
