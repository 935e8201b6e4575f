-- Stand-in for the analytics rollup tables when the rollup migration is not there: the
-- columns of 0005_analytics_rollups.sql that the boards read (dashboards/rollups.py).
CREATE TABLE analytics_desk_hour (
    site_id text NOT NULL, desk_id text NOT NULL, bucket_start timestamptz NOT NULL,
    observed_s bigint NOT NULL, occupied_s bigint NOT NULL, booked_s bigint NOT NULL,
    booked_observed_s bigint NOT NULL, booked_occupied_s bigint NOT NULL,
    unbooked_occupied_s bigint NOT NULL, PRIMARY KEY (desk_id, bucket_start)
);
CREATE TABLE analytics_desk_day (
    site_id text NOT NULL, desk_id text NOT NULL, day date NOT NULL,
    bucket_start timestamptz NOT NULL,
    observed_s bigint NOT NULL, occupied_s bigint NOT NULL, booked_s bigint NOT NULL,
    booked_observed_s bigint NOT NULL, booked_occupied_s bigint NOT NULL,
    unbooked_occupied_s bigint NOT NULL, PRIMARY KEY (desk_id, day)
);
CREATE TABLE analytics_booking_outcome (
    booking_id text PRIMARY KEY, site_id text NOT NULL, desk_id text NOT NULL,
    start_at timestamptz NOT NULL, observed_s bigint NOT NULL, occupied_s bigint NOT NULL,
    outcome text NOT NULL
);
CREATE TABLE analytics_site_day (
    site_id text NOT NULL, day date NOT NULL, open boolean NOT NULL, peak integer NOT NULL,
    peak_at timestamptz, copresence_s bigint NOT NULL, alone_s bigint, desks_used integer,
    PRIMARY KEY (site_id, day)
);
