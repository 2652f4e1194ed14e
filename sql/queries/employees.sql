-- name: create_employee
INSERT INTO employees (external_id, display_name, notes)
VALUES (%(external_id)s, %(display_name)s, %(notes)s)
RETURNING *;

-- name: get_employee
SELECT * FROM employees WHERE id = %(id)s;

-- name: list_employees
-- One page in creation order (limit is one more than the page size).
SELECT * FROM employees
WHERE %(external_id)s::text IS NULL OR external_id = %(external_id)s
ORDER BY created_at, id
LIMIT %(limit)s OFFSET %(offset)s;

-- name: update_employee
-- Only the given fields change (null parameter = keep; notes use a flag since null clears them).
UPDATE employees SET
    external_id = coalesce(%(external_id)s, external_id),
    display_name = coalesce(%(display_name)s, display_name),
    notes = CASE WHEN %(set_notes)s THEN %(notes)s ELSE notes END
WHERE id = %(id)s
RETURNING *;
