//! `maintenance import-legacy`, run as an operator runs it, on a database the original system
//! would have written: its exact schema, passlib hashes, placeholders and odd labels.

/// The original's `init_db()` in backend/main.py, statement for statement (requests first).
pub const ORIGINAL_SCHEMA: &str = "
            CREATE TABLE IF NOT EXISTS requests (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                user_id INTEGER,
                description TEXT NOT NULL,
                category VARCHAR(50),
                priority VARCHAR(20),
                status VARCHAR(20) DEFAULT 'pending',
                location VARCHAR(100),
                contact_info VARCHAR(100),
                image_url VARCHAR(500),
                task_id VARCHAR(100),
                created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
                updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
                FOREIGN KEY (user_id) REFERENCES users(id)
            );
            CREATE TABLE IF NOT EXISTS users (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                email VARCHAR(255) UNIQUE NOT NULL,
                hashed_password VARCHAR(255) NOT NULL,
                full_name VARCHAR(100),
                role VARCHAR(20) DEFAULT 'user',
                created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
            );";

/// What `init_super_admin.py` inserts when neither SUPER_ADMIN_EMAIL nor SUPER_ADMIN_PASSWORD
/// is set: `admin@system.local` with the published default `qwer1234`, hashed by passlib
/// (`CryptContext(schemes=["bcrypt"]).hash("qwer1234")`, passlib 1.7.4, 12 rounds).
pub const ORIGINAL_SUPER_ADMIN: &str = "
            INSERT INTO users (email, hashed_password, full_name, role) VALUES ('admin@system.local',
                '$2b$12$y9OD3CrP3RtHnCT3ajl2H.I0DV/.tiM4F1I.t87TzZk5qIFIRxtSm', 'Super Administrator', 'super_admin');";
