import session from 'express-session';
app.use(session({ secret: process.env.SESSION_SECRET || 'keyboard cat', resave: false }));
