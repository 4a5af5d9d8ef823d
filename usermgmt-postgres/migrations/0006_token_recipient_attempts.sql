-- Where a token's message went (`email:…` or `phone:…`), so confirming it verifies only that
-- address; and failed attempts at a short code, which is refused after a limit.
ALTER TABLE account_tokens ADD COLUMN sent_to text;
ALTER TABLE account_tokens ADD COLUMN attempts integer NOT NULL DEFAULT 0;
