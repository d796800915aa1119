# "내 정보" (the account page) and forgotten passwords (Korean).
# Each message here has its twin in ../en/account.ftl; a unit test fails when one is missing.

account-title = 내 정보
account-profile = 계정
account-summary = { $email } · { $role } · 가입 { $joined }
account-name-hint = (비워 두면 이름 없이 표시됩니다)
account-name-save = 이름 저장
account-password-heading = 비밀번호 변경
account-password-note = 바꾸면 이 브라우저를 뺀 모든 기기와 API 토큰이 로그아웃됩니다.
account-current-password = 현재 비밀번호
account-password-submit = 비밀번호 변경
account-sessions = 로그인된 기기
account-session-kind = 종류
account-session-created = 로그인
account-session-expires = 만료
account-this-device = 이 기기
account-logout-everywhere = 모든 기기에서 로그아웃
account-logout-everywhere-note = 이 브라우저도 로그아웃됩니다.
session-kind-api = API 토큰
session-kind-page = 웹 브라우저

password-new = 새 비밀번호
password-new-confirm = 새 비밀번호 확인
password-rule = 비밀번호는 8바이트 이상 72바이트 이하여야 합니다. (한글은 한 글자에 3바이트)
password-confirm-differs = 새 비밀번호와 확인이 서로 다릅니다. 다시 입력해 주세요.
account-bad-name = 이름은 100자 이하로, 보이지 않는 문자나 제어 문자 없이 입력해 주세요.
account-wrong-password = 현재 비밀번호가 맞지 않습니다.
flash-name-saved = 이름을 저장했습니다.
flash-password-changed = 비밀번호를 바꿨습니다. 다른 기기와 API 토큰은 모두 로그아웃되었습니다.

reset-request-title = 비밀번호 재설정
reset-request-heading = 비밀번호를 잊으셨나요?
reset-request-intro = 가입한 이메일 주소를 입력하면 비밀번호를 다시 정할 수 있는 링크를 보내 드립니다. 링크는 { $minutes }분 동안 한 번만 쓸 수 있습니다.
reset-request-submit = 재설정 링크 받기
reset-no-mail = 이 건물의 시스템은 메일을 보내지 않습니다. 관리사무소에 비밀번호 재설정을 요청해 주세요.
reset-no-mail-office = 관리사무소에서 본인 확인 후 한 번만 쓸 수 있는 재설정 링크를 전해 드립니다. 링크는 { $minutes }분 동안 유효합니다.
reset-back-to-login = 로그인으로 돌아가기
reset-bad-email = 올바른 이메일 주소를 입력해 주세요.
# The answer to every request for a link by mail, whether or not the address has an account.
flash-reset-link-sent = 입력한 주소로 가입된 계정이 있으면 비밀번호 재설정 링크를 보냈습니다. 몇 분 안에 메일이 오지 않으면 스팸함을 확인하거나 관리사무소에 문의해 주세요.
flash-reset-ask-the-office = 메일을 보낼 수 없습니다. 관리사무소에 비밀번호 재설정을 요청해 주세요.

reset-new-title = 새 비밀번호
reset-new-heading = 새 비밀번호 정하기
reset-new-intro = { $email } 계정의 새 비밀번호를 입력해 주세요. 저장하면 모든 기기에서 로그아웃됩니다.
reset-new-submit = 비밀번호 저장
reset-new-dead-link = 이 링크는 쓸 수 없습니다. 이미 사용했거나, { $minutes }분이 지나 만료되었거나, 주소가 잘못되었습니다.
reset-new-ask-again = 재설정 링크를 다시 받기
flash-new-password-saved = 새 비밀번호를 저장했습니다. 새 비밀번호로 로그인해 주세요.

reset-link-title = 비밀번호 재설정 링크
reset-link-intro = { $email } 계정의 재설정 링크입니다. 본인에게만 직접 전해 주세요. 이 화면을 떠나면 다시 볼 수 없습니다.
reset-link-label = 링크
reset-link-hint = ({ $expires }까지, 한 번만 사용 가능)
reset-link-note = 새 비밀번호를 정하면 그 계정은 모든 기기에서 로그아웃됩니다.
reset-link-back = 사용자 관리로 돌아가기

# The mail with a reset link, in the language of the visitor who asked for it.
reset-mail-subject = 비밀번호 재설정 안내
reset-mail-greeting = { $name }님, 안녕하세요.
reset-mail-requested = 건물 유지보수 계정({ $email })의 비밀번호 재설정을 요청하셨습니다.
reset-mail-open = 아래 링크를 열어 새 비밀번호를 정해 주세요.
reset-mail-expiry = 이 링크는 { $minutes }분 동안 한 번만 쓸 수 있습니다. 새 비밀번호를 정하면 모든 기기에서 로그아웃됩니다.
reset-mail-ignore = 요청하지 않으셨다면 이 메일을 무시해 주세요. 비밀번호는 바뀌지 않습니다.
