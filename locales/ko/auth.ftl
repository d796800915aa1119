# The landing page, logging in and signing up (Korean).

landing-title = 환영합니다
landing-heading = 고장 신고, 한 번에 접수하세요
landing-intro = 물이 새거나, 전등이 나가거나, 엘리베이터가 멈췄다면 여기에 적어 주세요.
    요청은 바로 분류되어(전기 · 배관 · 냉난방 · 구조 · 기타, 긴급도 높음 · 보통 · 낮음)
    관리사무소에 전달되고, 처리 상황을 실시간으로 볼 수 있습니다.
landing-see-mine = 내 요청 보기
landing-how = 이용 방법
# Keys ending in -html hold markup of our own and take no arguments.
landing-step-1-html = 로그인한 뒤 <strong>새 요청</strong>에서 문제를 설명하고, 위치와 연락처, 사진을 남깁니다.
landing-step-2 = 요청은 즉시 분류되고 긴급한 건은 먼저 처리됩니다.
landing-step-3-html = <strong>내 요청</strong>에서 대기중 → 진행중 → 완료 상태를 확인합니다.

login-title = 로그인
login-submit = 로그인
login-no-account = 계정이 없으신가요?
login-forgot-password = 비밀번호를 잊으셨나요?
login-failed = 이메일 또는 비밀번호가 올바르지 않습니다.

register-title = 회원가입
register-password-hint = (8~72바이트)
register-submit = 가입하기
register-have-account = 이미 계정이 있으신가요?
register-bad-email = 올바른 이메일 주소를 입력해 주세요.
register-bad-password = 비밀번호는 8바이트 이상 72바이트 이하여야 합니다. (한글은 한 글자에 3바이트)
register-email-taken = 이미 가입된 이메일입니다. 로그인해 주세요.
register-invalid = 입력한 내용을 확인해 주세요.

flash-welcome = 가입을 환영합니다. 첫 요청을 접수해 보세요.
flash-logged-out = 로그아웃되었습니다.
flash-logged-out-everywhere = 모든 기기에서 로그아웃되었습니다.
