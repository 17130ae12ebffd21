-- 20_settings: the merge's settings: the widths "auto" stands for, the settings in force, and
-- merge_setting_set (what `parallaxctl settings set` calls).
-- Installed by every `parallaxctl db migrate` after the migrations (CREATE OR REPLACE), in
-- file order, in one transaction with check_function_bodies off. A change CREATE OR REPLACE
-- cannot make (a view's columns, a function's result type) needs a DROP in a new migration.

-- The widths "auto" stands for, from the schedule as it is now.
CREATE OR REPLACE FUNCTION parallax.merge_auto_vantage_bin_s() RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT coalesce(max(p.interval_s), 60)
FROM parallax.probes p JOIN parallax.targets t ON t.id = p.target_id
WHERE t.control
$$;

CREATE OR REPLACE FUNCTION parallax.merge_auto_group_bin_s() RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT coalesce(max(p.interval_s), 60)
FROM parallax.probes p JOIN parallax.targets t ON t.id = p.target_id
WHERE NOT t.control AND t.group_name IS NOT NULL
$$;

-- The settings in force: the stored row with "auto" widths resolved. Every merge step reads
-- its settings through this.
CREATE OR REPLACE FUNCTION parallax.merge_settings_now() RETURNS parallax.merge_settings
LANGUAGE plpgsql STABLE SET search_path = pg_catalog AS $$
DECLARE
    s parallax.merge_settings;
BEGIN
    SELECT * INTO s FROM parallax.merge_settings;
    s.vantage_bin_s := coalesce(s.vantage_bin_s, parallax.merge_auto_vantage_bin_s());
    s.group_bin_s := coalesce(s.group_bin_s, parallax.merge_auto_group_bin_s());
    RETURN s;
END $$;

-- The list gains the value in force and where it came from (set, default, or auto with its
-- reason); an auto width reads "auto" as its value and default.
CREATE OR REPLACE VIEW parallax.merge_setting_list AS
SELECT l.name, l.type, l.value, l.default_value, l.description, l.position,
       coalesce(to_jsonb(parallax.merge_settings_now()) ->> l.name,
                CASE WHEN l.name LIKE 'keep\_%' THEN 'forever' END) AS in_force,
       CASE WHEN l.value = 'auto' AND l.name = 'vantage_bin_s'
                THEN 'auto: the longest control-probe interval (60 without control targets)'
            WHEN l.value = 'auto'
                THEN 'auto: the longest probe interval of grouped targets (60 without any)'
            WHEN l.value = l.default_value THEN 'default'
            ELSE 'set' END AS source
FROM (
    SELECT a.attname::text AS name,
           format_type(a.atttypid, a.atttypmod) AS type,
           coalesce(to_jsonb(s) ->> a.attname::text,
                    CASE WHEN a.attname IN ('vantage_bin_s', 'group_bin_s') THEN 'auto'
                         WHEN a.attname LIKE 'keep\_%' THEN 'forever' END) AS value,
           CASE WHEN a.attname IN ('vantage_bin_s', 'group_bin_s') AND coalesce(pg_get_expr(d.adbin, d.adrelid), 'NULL') ~ '^NULL' THEN 'auto'
                -- The retention settings (migration 006): empty is "forever".
                WHEN a.attname LIKE 'keep\_%' AND coalesce(pg_get_expr(d.adbin, d.adrelid), 'NULL') ~ '^NULL' THEN 'forever'
                -- '1 day'::interval reads better as 1 day.
                ELSE regexp_replace(pg_get_expr(d.adbin, d.adrelid), '^''(.*)''::[a-z ]+$', '\1') END AS default_value,
           col_description(a.attrelid, a.attnum) AS description,
           a.attnum::integer AS position
    FROM pg_attribute a
    CROSS JOIN parallax.merge_settings s
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = 'parallax.merge_settings'::regclass
      AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> 'id') l;

COMMENT ON VIEW parallax.merge_setting_list IS 'The merge''s settings by name: type, value (auto: derived from the schedule), default, what each does, the value in force and where it came from.';

-- Sets one setting from text, converted to its type ("auto" for a width: derived from the
-- schedule; "forever" for a keep_* setting: never removed); returns the value as stored. Errors name
-- the setting: an unknown name lists the known ones, a value of the wrong type or outside the
-- setting's range says what is allowed. The change applies from the next merge; bins merged
-- before keep their verdicts until parallax.merge_mark() queues them again.
CREATE OR REPLACE FUNCTION parallax.merge_setting_set(p_name text, p_value text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    t text;
    stored text;
    constraint_name text;
    rule text;
BEGIN
    SELECT l.type INTO t FROM parallax.merge_setting_list l WHERE l.name = p_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no merge setting named "%" (the settings: %)', p_name,
            (SELECT string_agg(l.name, ', ' ORDER BY l.position) FROM parallax.merge_setting_list l)
            USING ERRCODE = 'undefined_object';
    END IF;
    BEGIN
        EXECUTE format('UPDATE parallax.merge_settings SET %I = $1::%s', p_name, t)
            USING CASE WHEN p_value = 'auto' AND p_name IN ('vantage_bin_s', 'group_bin_s') THEN NULL
                       WHEN p_value = 'forever' AND p_name LIKE 'keep\_%' THEN NULL
                       ELSE p_value END;
    EXCEPTION
        WHEN data_exception THEN
            RAISE EXCEPTION '% must be of type %: %', p_name, t, SQLERRM
                USING ERRCODE = 'invalid_parameter_value';
        WHEN not_null_violation THEN
            RAISE EXCEPTION '% cannot be empty', p_name USING ERRCODE = 'invalid_parameter_value';
        WHEN check_violation THEN
            GET STACKED DIAGNOSTICS constraint_name = CONSTRAINT_NAME;
            SELECT pg_get_constraintdef(c.oid) INTO rule FROM pg_constraint c
            WHERE c.conrelid = 'parallax.merge_settings'::regclass AND c.conname = constraint_name;
            -- CHECK ((x > (1)::double precision)) reads better as x > 1.
            rule := regexp_replace(coalesce(rule, constraint_name), '^CHECK \(\((.*)\)\)$', '\1');
            rule := regexp_replace(rule, '\(?''?([^()'' ]*)''?\)?::[a-z ]+', '\1', 'g');
            RAISE EXCEPTION '% = % is out of range; it must satisfy %', p_name, p_value, rule
                USING ERRCODE = 'invalid_parameter_value';
    END;
    SELECT l.value INTO stored FROM parallax.merge_setting_list l WHERE l.name = p_name;
    RETURN stored;
END $$;
