-- Sign-ins of integrations that use OAuth: the tokens, sealed with the
-- deployment's key (never readable from the database alone).
CREATE TABLE integration_credentials (
    integration TEXT PRIMARY KEY,
    sealed TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
