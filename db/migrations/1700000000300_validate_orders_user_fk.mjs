export function up() {
  return 'ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk;'
}

export const config = { lockTimeout: 2000 }
