-- Analytics rollups (SPEC §6), written by `hubsense analytics run` and the scheduler; read by
-- dashboards, the API and reports. A run replaces exactly the rows of its sites and period.
-- Seconds are summed milliseconds floored; times are instants (timestamptz), local dates `date`.

CREATE TABLE analytics_desk_hour (
    site_id             text NOT NULL,
    desk_id             text NOT NULL,
    bucket_start        timestamptz NOT NULL,   -- one real hour (23/25 a day across DST changes)
    observed_s          bigint NOT NULL,
    occupied_s          bigint NOT NULL,
    booked_s            bigint NOT NULL,
    booked_observed_s   bigint NOT NULL,
    booked_occupied_s   bigint NOT NULL,
    unbooked_occupied_s bigint NOT NULL,
    computed_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (desk_id, bucket_start)
);
CREATE INDEX analytics_desk_hour_site ON analytics_desk_hour (site_id, bucket_start);

CREATE TABLE analytics_desk_day (
    site_id             text NOT NULL,
    desk_id             text NOT NULL,
    day                 date NOT NULL,          -- site-local date
    bucket_start        timestamptz NOT NULL,   -- its local midnight
    observed_s          bigint NOT NULL,
    occupied_s          bigint NOT NULL,
    booked_s            bigint NOT NULL,
    booked_observed_s   bigint NOT NULL,
    booked_occupied_s   bigint NOT NULL,
    unbooked_occupied_s bigint NOT NULL,
    computed_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (desk_id, day)
);
CREATE INDEX analytics_desk_day_site ON analytics_desk_day (site_id, day);

CREATE TABLE analytics_booking_outcome (
    booking_id  text PRIMARY KEY,
    site_id     text NOT NULL,
    desk_id     text NOT NULL,
    start_at    timestamptz NOT NULL,
    observed_s  bigint NOT NULL,
    occupied_s  bigint NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('unknown', 'no_show', 'attended')),
    computed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX analytics_booking_outcome_site ON analytics_booking_outcome (site_id, start_at);

CREATE TABLE analytics_site_day (
    site_id      text NOT NULL,
    day          date NOT NULL,
    open         boolean NOT NULL,
    peak         integer NOT NULL,
    peak_at      timestamptz,                 -- NULL when the peak is 0
    copresence_s bigint NOT NULL,
    computed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, day)
);

CREATE TABLE analytics_site_summary (
    site_id      text NOT NULL,
    period_from  date NOT NULL,
    period_to    date NOT NULL,               -- exclusive
    percentile   numeric NOT NULL,
    days_open    integer NOT NULL,
    capacity     integer NOT NULL,
    desks_needed integer NOT NULL,
    surplus      integer NOT NULL,
    computed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, period_from, period_to)
);

-- What the scheduler has computed up to, per site: events received after this were not seen.
CREATE TABLE analytics_watermark (
    site_id       text PRIMARY KEY,
    received_upto timestamptz NOT NULL,
    computed_at   timestamptz NOT NULL DEFAULT now()
);
