export const up = 'CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_user_id_idx ON orders (user_id)'

export const config = { transaction: false, lockTimeout: '5s', statementTimeout: '15min' }
