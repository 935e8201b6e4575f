-- The region's decisions (docs/decisions.md): alone time and desks used per site and day,
-- the inventory's money, distance and threshold fields, co-working sites and their day passes.

-- Per site and local day (docs/metrics.md): seconds with exactly one desk in use, and desks
-- whose occupied time reached the organisation's used_min_s. NULL on rows computed before
-- these existed (rerun `hubsense analytics run` to fill them), never a made-up 0.
ALTER TABLE analytics_site_day
    ADD COLUMN alone_s    bigint,
    ADD COLUMN desks_used integer;

-- A private co-working space where day passes are bought: no desks or nodes of ours.
ALTER TABLE sites DROP CONSTRAINT IF EXISTS sites_kind_check;
ALTER TABLE sites ADD CONSTRAINT sites_kind_check CHECK (kind IN ('office', 'hub', 'coworking'));
ALTER TABLE sites
    ADD COLUMN commute_km     double precision CHECK (commute_km >= 0),     -- one-way road km to the main office
    ADD COLUMN day_pass_price double precision CHECK (day_pass_price >= 0); -- overrides the organisation's

-- The organisation's settings from the inventory (one row per organisation name).
CREATE TABLE organisation (
    name                  text PRIMARY KEY,
    currency              text CHECK (currency ~ '^[A-Z]{3}$'),             -- ISO 4217
    main_office           text REFERENCES sites (id),
    day_pass_price        double precision CHECK (day_pass_price >= 0),
    day_pass_budget_month double precision CHECK (day_pass_budget_month >= 0),
    co2_kg_per_km         double precision NOT NULL DEFAULT 0.12 CHECK (co2_kg_per_km >= 0),
    used_min_s            integer NOT NULL DEFAULT 1800 CHECK (used_min_s > 0),
    together_min_s        integer NOT NULL DEFAULT 3600 CHECK (together_min_s > 0),
    retired_at            timestamptz,
    updated_at            timestamptz NOT NULL DEFAULT now()
);

-- Day passes bought at co-working sites: counts only, never who used them.
CREATE TABLE day_passes (
    pass_id     text PRIMARY KEY,
    site_id     text NOT NULL REFERENCES sites (id),
    day         date NOT NULL,                   -- site-local date the pass is for
    imported_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX day_passes_site_day ON day_passes (site_id, day);
