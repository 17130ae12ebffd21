-- 009_settings: the merge's settings by name, for `parallaxctl settings` and just as usable
-- from psql:
--   SELECT name, value, default_value FROM parallax.merge_setting_list;
--   SELECT parallax.merge_setting_set('open_after', '3');
-- A plain UPDATE of parallax.merge_settings still works; the function adds the name check and
-- errors that say which setting and why.

-- One row per setting: its type, value now, default and what it does (the column comment).
CREATE VIEW parallax.merge_setting_list AS
SELECT a.attname::text AS name,
       format_type(a.atttypid, a.atttypmod) AS type,
       to_jsonb(s) ->> a.attname::text AS value,
       -- '1 day'::interval reads better as 1 day.
       regexp_replace(pg_get_expr(d.adbin, d.adrelid), '^''(.*)''::[a-z ]+$', '\1') AS default_value,
       col_description(a.attrelid, a.attnum) AS description,
       a.attnum::integer AS position
FROM pg_attribute a
CROSS JOIN parallax.merge_settings s
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = 'parallax.merge_settings'::regclass
  AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> 'id';
COMMENT ON VIEW parallax.merge_setting_list IS 'The merge''s settings by name: type, value, default and what each does.';

-- Sets one setting from text, converted to its type; returns the value as stored. Errors name
-- the setting: an unknown name lists the known ones, a value of the wrong type or outside the
-- setting's range says what is allowed. The change applies from the next merge; bins merged
-- before keep their verdicts until parallax.merge_mark() queues them again.
CREATE FUNCTION parallax.merge_setting_set(p_name text, p_value text) RETURNS text
LANGUAGE plpgsql AS $$
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
        EXECUTE format('UPDATE parallax.merge_settings SET %I = $1::%s', p_name, t) USING p_value;
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
