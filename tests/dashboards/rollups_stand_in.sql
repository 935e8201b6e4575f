-- Stand-in for the analytics rollup tables while no rollup migration is committed:
-- SPEC §10's output columns, named as dashboards/rollups.py expects them.
CREATE TABLE desk_metrics (
    site_id             text NOT NULL,
    desk_id             text NOT NULL,
    bucket              text NOT NULL,
    bucket_start        timestamptz NOT NULL,
    observed_s          bigint NOT NULL,
    occupied_s          bigint NOT NULL,
    booked_s            bigint NOT NULL,
    booked_observed_s   bigint NOT NULL,
    booked_occupied_s   bigint NOT NULL,
    unbooked_occupied_s bigint NOT NULL,
    PRIMARY KEY (desk_id, bucket, bucket_start)
);
CREATE TABLE booking_outcomes (
    booking_id  text PRIMARY KEY,
    site_id     text NOT NULL,
    desk_id     text NOT NULL,
    observed_s  bigint NOT NULL,
    occupied_s  bigint NOT NULL,
    outcome     text NOT NULL
);
CREATE TABLE site_daily (
    site_id      text NOT NULL,
    date         date NOT NULL,
    open         boolean NOT NULL,
    peak         integer NOT NULL,
    peak_at      timestamptz,
    copresence_s bigint NOT NULL,
    PRIMARY KEY (site_id, date)
);
