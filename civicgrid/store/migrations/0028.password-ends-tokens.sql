-- A password change ends the tokens issued before it (api/auth.py): a stolen or shared token stops working
-- when the password is reset, as a disabled user's do. Whole seconds, as a JWT's `iat`.
-- depends: 0001.initial-schema
ALTER TABLE users ADD COLUMN tokens_valid_after timestamptz;
