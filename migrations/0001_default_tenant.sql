-- Custom SQL migration file, put your code below! ---- The operator's ROOT_TOKEN administers this tenant.
INSERT INTO tenants (id, name, created_at) VALUES ('default', 'Default tenant', 0);
