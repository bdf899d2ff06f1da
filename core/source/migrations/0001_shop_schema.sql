-- The e-commerce source model. Every statement is idempotent so that the
-- file can be re-applied safely; core.source.migrate also records it in
-- schema_migrations and applies it once.

CREATE TABLE IF NOT EXISTS users (
    user_id           bigserial    PRIMARY KEY,
    first_name        text         NOT NULL,
    last_name         text         NOT NULL,
    email             text         NOT NULL UNIQUE,
    phone             text,
    registration_date timestamptz  NOT NULL DEFAULT now(),
    loyalty_status    text         NOT NULL DEFAULT 'bronze'
        CHECK (loyalty_status IN ('bronze', 'silver', 'gold', 'platinum'))
);

CREATE TABLE IF NOT EXISTS product_categories (
    category_id        bigserial PRIMARY KEY,
    name               text      NOT NULL,
    parent_category_id bigint    REFERENCES product_categories (category_id)
);

CREATE TABLE IF NOT EXISTS products (
    product_id     bigserial     PRIMARY KEY,
    name           text          NOT NULL,
    description    text,
    category_id    bigint        NOT NULL REFERENCES product_categories (category_id),
    price          numeric(12,2) NOT NULL CHECK (price >= 0),
    stock_quantity integer       NOT NULL DEFAULT 0 CHECK (stock_quantity >= 0),
    creation_date  timestamptz   NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS orders (
    order_id      bigserial     PRIMARY KEY,
    user_id       bigint        NOT NULL REFERENCES users (user_id),
    order_date    timestamptz   NOT NULL DEFAULT now(),
    total_amount  numeric(12,2) NOT NULL DEFAULT 0,
    status        text          NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'paid', 'shipped', 'completed', 'cancelled')),
    delivery_date date
);

CREATE TABLE IF NOT EXISTS order_details (
    order_detail_id bigserial     PRIMARY KEY,
    order_id        bigint        NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    product_id      bigint        NOT NULL REFERENCES products (product_id),
    quantity        integer       NOT NULL CHECK (quantity > 0),
    price_per_unit  numeric(12,2) NOT NULL,
    total_price     numeric(12,2) NOT NULL
);

CREATE INDEX IF NOT EXISTS orders_user_id_idx ON orders (user_id);
CREATE INDEX IF NOT EXISTS order_details_order_id_idx ON order_details (order_id);
CREATE INDEX IF NOT EXISTS order_details_product_id_idx ON order_details (product_id);
CREATE INDEX IF NOT EXISTS products_category_id_idx ON products (category_id);

-- Debezium's heartbeat.action.query writes here, so that the replication
-- slot's confirmed position keeps moving even while the five shop tables are
-- quiet and other databases on the cluster produce WAL.
CREATE TABLE IF NOT EXISTS cdc_heartbeat (
    id integer     PRIMARY KEY,
    ts timestamptz NOT NULL
);

-- REPLICA IDENTITY FULL: updates and deletes carry the complete old row
-- ("before") in the WAL. The marts need the old values of a changed row
-- (old status, old quantity, old category) to retract what it contributed,
-- and a dead-lettered delete is only diagnosable with its full old row. The
-- price is a larger WAL record per update/delete; inserts are unaffected.
ALTER TABLE users              REPLICA IDENTITY FULL;
ALTER TABLE product_categories REPLICA IDENTITY FULL;
ALTER TABLE products           REPLICA IDENTITY FULL;
ALTER TABLE orders             REPLICA IDENTITY FULL;
ALTER TABLE order_details      REPLICA IDENTITY FULL;

-- An explicit publication (publication.autocreate.mode=disabled in the
-- connector): the connector's database user then needs no ownership of the
-- tables, and what is published is reviewed here, not decided at run time.
-- It publishes inserts, updates, deletes and truncates.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'cdc_publication') THEN
        CREATE PUBLICATION cdc_publication FOR TABLE
            users, product_categories, products, orders, order_details, cdc_heartbeat;
    END IF;
END
$$;
